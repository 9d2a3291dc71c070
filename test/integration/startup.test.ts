import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBotToExit } from "../support/bot-process.js";

describe("startup with a bad setup", () => {
  it("exits 2 listing every problem, one line each, no stack trace, secrets masked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "opsgram-badcfg-"));
    const config = join(dir, "opsgram.yml");
    writeFileSync(config, "targets:\n  prod:\n    host: local\n    appDir: /opt/app\n    services:\n      worker: { min: 1, max: many }\n");
    const secret = "Sup3rS3cretDbPass";
    const { code, output } = await runBotToExit({
      env: {
        TELEGRAM_BOT_TOKEN: "",
        ADMIN_CHAT_IDS: "abc",
        DATABASE_URL: `mysql://ops:${secret}@db/ops`,
        OPSGRAM_CONFIG: config,
      },
    });
    expect(code).toBe(2);
    expect(output).toContain('ADMIN_CHAT_IDS: "abc" is not a chat id');
    expect(output).toContain("TELEGRAM_BOT_TOKEN: does not look like a bot token");
    expect(output).toContain("DATABASE_URL: must start with postgres:// or postgresql://");
    expect(output).toContain("targets.prod.services.worker.max: expected a number");
    expect(output).not.toContain(secret);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("exits 2 when the database cannot be reached", async () => {
    const { code, output } = await runBotToExit({
      env: {
        TELEGRAM_BOT_TOKEN: `123456:${"x".repeat(35)}`,
        ADMIN_CHAT_IDS: "1",
        DATABASE_URL: "postgres://ops:topsecretpw@127.0.0.1:1/ops",
      },
    });
    expect(code).toBe(2);
    expect(output).toMatch(/database: /);
    expect(output).not.toContain("topsecretpw");
    expect(output).not.toMatch(/\n\s+at /);
  });
});
