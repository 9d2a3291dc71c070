import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactText } from "../../src/infra/logger.js";
import { clearRegisteredSecrets, registerSecret } from "../../src/shared/redact.js";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, destination };
}

const token = `${7000000 + Math.floor(Math.random() * 1e6)}:AA${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}xyzXYZ_-`;

describe("logger redaction", () => {
  it("never writes the bot token, a URL password or a private key", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "debug", destination });
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    log.info({ token, url: `https://api.telegram.org/bot${token}/getMe` }, `calling with ${token}`);
    log.info({ nested: { databaseUrl: "postgres://ops:hunter2@db:5432/ops" } }, "db");
    log.error({ err: new Error(`request to /bot${token}/sendMessage failed`) }, "failed");
    log.info({ ssh: { privateKey: key }, text: key }, "key");
    const all = lines.join("");
    expect(lines).toHaveLength(4);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split(":")[1]);
    expect(all).not.toContain("hunter2");
    expect(all).not.toContain("b3BlbnNzaC1rZXktdjEAAAAA");
    expect(all).toContain("[REDACTED");
    expect(all).toContain("postgres://ops:[REDACTED]@db:5432/ops");
  });

  it("redactText leaves ordinary text alone", () => {
    expect(redactText("deploy main → a1b2c3d at 12:30:45")).toBe("deploy main → a1b2c3d at 12:30:45");
  });

  it("masks NAME=value secrets, bearer tokens and registered values in messages and fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", destination });
    registerSecret("registered-s3cret-value");
    try {
      log.info({ line: "web-1 | DB_PASSWORD=hunter2", hmacKey: "k-123" }, "Authorization: Bearer abc.def.ghi123 registered-s3cret-value");
    } finally {
      clearRegisteredSecrets();
    }
    const all = lines.join("");
    expect(all).toContain("DB_PASSWORD=***");
    expect(all).not.toContain("hunter2");
    expect(all).not.toContain("abc.def.ghi123");
    expect(all).not.toContain("registered-s3cret-value");
    expect(all).not.toContain("k-123");
  });
});
