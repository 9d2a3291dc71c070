import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  blobKeyType,
  entryMatches,
  findHostKeys,
  fingerprintSha256,
  hostKeyAlgorithms,
  knownHostName,
  parseKnownHosts,
  verifyHostKey,
} from "../../src/infra/ssh/known-hosts.js";

let dir: string;
const keys: Record<"ed" | "rsa" | "other", { line: string; blob: Buffer; fingerprint: string }> = {} as never;

function makeKey(name: string, type: string): { line: string; blob: Buffer; fingerprint: string } {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-f", path]);
  const line = readFileSync(`${path}.pub`, "utf8").trim();
  const blob = Buffer.from(line.split(" ")[1] ?? "", "base64");
  // What `ssh-keygen -l` prints is the reference the error messages must match.
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`], { encoding: "utf8" }).split(" ")[1] ?? "";
  return { line, blob, fingerprint };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsgram-kh-"));
  keys.ed = makeKey("ed", "ed25519");
  keys.rsa = makeKey("rsa", "rsa");
  keys.other = makeKey("other", "ed25519");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keyPart = (line: string) => line.split(" ").slice(0, 2).join(" ");

describe("fingerprints", () => {
  it("match ssh-keygen -l exactly", () => {
    for (const k of Object.values(keys)) expect(fingerprintSha256(k.blob)).toBe(k.fingerprint);
    expect(keys.ed.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
  it("reads the type from the blob", () => {
    expect(blobKeyType(keys.ed.blob)).toBe("ssh-ed25519");
    expect(blobKeyType(keys.rsa.blob)).toBe("ssh-rsa");
    expect(blobKeyType(Buffer.from([0, 0]))).toBeNull();
  });
});

describe("parseKnownHosts", () => {
  it("reads plain, [host]:port, lists, markers and comments; skips junk", () => {
    const text = [
      "# comment",
      "",
      `example.com,10.0.0.1 ${keyPart(keys.ed.line)} comment here`,
      `[127.0.0.1]:2222 ${keyPart(keys.rsa.line)}`,
      `@revoked * ${keyPart(keys.other.line)}`,
      `@cert-authority *.example.com ${keyPart(keys.other.line)}`,
      "garbage line",
      `host ssh-ed25519 not!base64`,
      `mismatch ssh-rsa ${keyPart(keys.ed.line).split(" ")[1]}`,
      `@bogus host ${keyPart(keys.ed.line)}`,
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.patterns, e.keyType])).toEqual([
      [3, null, ["example.com", "10.0.0.1"], "ssh-ed25519"],
      [4, null, ["[127.0.0.1]:2222"], "ssh-rsa"],
      [5, "revoked", ["*"], "ssh-ed25519"],
      [6, "cert-authority", ["*.example.com"], "ssh-ed25519"],
    ]);
    expect(entries[0]?.key.equals(keys.ed.blob)).toBe(true);
  });

  it("handles CRLF files", () => {
    expect(parseKnownHosts(`a ${keyPart(keys.ed.line)}\r\nb ${keyPart(keys.rsa.line)}\r\n`)).toHaveLength(2);
  });
});

describe("host matching", () => {
  it("names non-22 ports in brackets", () => {
    expect(knownHostName("example.com", 22)).toBe("example.com");
    expect(knownHostName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
  });

  it("supports wildcards, negation and case-insensitivity", () => {
    expect(entryMatches({ patterns: ["*.example.com"] }, "web.example.com")).toBe(true);
    expect(entryMatches({ patterns: ["*.example.com", "!db.example.com"] }, "db.example.com")).toBe(false);
    expect(entryMatches({ patterns: ["web?.EXAMPLE.com"] }, "web1.example.com")).toBe(true);
    expect(entryMatches({ patterns: ["example.com"] }, "[example.com]:2222")).toBe(false);
    expect(entryMatches({ patterns: ["a.b"] }, "axb")).toBe(false);
  });

  it("matches hashed entries written by ssh-keygen -H", () => {
    const file = join(dir, "known_hosts_hashed");
    writeFileSync(file, `[127.0.0.1]:2222 ${keyPart(keys.ed.line)}\nexample.com ${keyPart(keys.rsa.line)}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    expect(entries.every((e) => e.patterns[0]?.startsWith("|1|"))).toBe(true);
    expect(findHostKeys(entries, "127.0.0.1", 2222).trusted.map((e) => e.keyType)).toEqual(["ssh-ed25519"]);
    expect(findHostKeys(entries, "example.com", 22).trusted.map((e) => e.keyType)).toEqual(["ssh-rsa"]);
    expect(findHostKeys(entries, "127.0.0.1", 2223).trusted).toEqual([]);
  });
});

describe("verifyHostKey", () => {
  const text = () =>
    [`[127.0.0.1]:2222 ${keyPart(keys.ed.line)}`, `[127.0.0.1]:2222 ${keyPart(keys.rsa.line)}`].join("\n");

  it("trusts a pinned key, compared byte for byte", () => {
    const pinned = findHostKeys(parseKnownHosts(text()), "127.0.0.1", 2222);
    expect(verifyHostKey(pinned, keys.ed.blob)).toEqual({ status: "trusted", fingerprint: keys.ed.fingerprint });
    expect(verifyHostKey(pinned, keys.rsa.blob).status).toBe("trusted");
  });

  it("reports a mismatch with both fingerprints", () => {
    const pinned = findHostKeys(parseKnownHosts(text()), "127.0.0.1", 2222);
    expect(verifyHostKey(pinned, keys.other.blob)).toEqual({
      status: "mismatch",
      fingerprint: keys.other.fingerprint,
      expected: [keys.ed.fingerprint, keys.rsa.fingerprint],
    });
  });

  it("reports an unknown host (no TOFU)", () => {
    const pinned = findHostKeys(parseKnownHosts(text()), "127.0.0.1", 22);
    expect(verifyHostKey(pinned, keys.ed.blob)).toEqual({ status: "unknown", fingerprint: keys.ed.fingerprint });
  });

  it("refuses a revoked key even when it is also pinned", () => {
    const pinned = findHostKeys(parseKnownHosts(`${text()}\n@revoked * ${keyPart(keys.ed.line)}`), "127.0.0.1", 2222);
    expect(verifyHostKey(pinned, keys.ed.blob).status).toBe("revoked");
    expect(verifyHostKey(pinned, keys.rsa.blob).status).toBe("trusted");
  });

  it("offers only the pinned key types", () => {
    const both = findHostKeys(parseKnownHosts(text()), "127.0.0.1", 2222);
    expect(hostKeyAlgorithms(both)).toEqual(["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(hostKeyAlgorithms(findHostKeys([], "x", 22))).toBeUndefined();
  });
});
