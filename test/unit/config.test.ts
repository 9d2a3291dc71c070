import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";

const TOKEN = `${100000 + Math.floor(Math.random() * 1e6)}:${"A".repeat(20)}${Math.random().toString(36).slice(2, 14)}`;

function writeYaml(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "opsgram-cfg-"));
  const path = join(dir, "opsgram.yml");
  writeFileSync(path, text);
  return path;
}

describe("loadConfig", () => {
  it("accepts a minimal env and no opsgram.yml (no targets)", () => {
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "12345, -1001234567890", OPSGRAM_CONFIG: "/nonexistent/opsgram.yml" });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.env.adminChatIds).toEqual([12345, -1001234567890]);
    expect(result.config.env.alertChatIds).toEqual([12345, -1001234567890]);
    expect(result.config.env.adminUserIds).toBeUndefined();
    expect(result.config.opsFileFound).toBe(false);
    expect(result.config.ops.targets).toEqual({});
  });

  it("lists every problem at once, one line each, with its path", () => {
    const path = writeYaml(
      ["targets:", "  prod:", "    host: local", "    appDir: /opt/app", "    services:", "      worker: { min: 1, max: abc }", "    colour: blue"].join("\n"),
    );
    const result = loadConfig({ ADMIN_CHAT_IDS: "abc", ADMIN_USER_IDS: "-5", LOG_LEVEL: "loud", OPSGRAM_CONFIG: path });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      "TELEGRAM_BOT_TOKEN: is required (get one from @BotFather)",
      'ADMIN_CHAT_IDS: "abc" is not a chat id',
      'ADMIN_USER_IDS: "-5" is not a user id',
      "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent",
      "targets.prod.services.worker.max: expected a number",
      'targets.prod: unknown key "colour"',
    ]);
  });

  it("never echoes the token or a database password in a problem", () => {
    const secret = "s3cr3tPassw0rd";
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: "not-a-token-" + secret, ADMIN_CHAT_IDS: "1", DATABASE_URL: `mysql://u:${secret}@h/db` });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.join("\n")).not.toContain(secret);
    expect(result.problems).toHaveLength(2);
  });

  it("requires ssh settings for ssh targets and validates names and bounds", () => {
    const path = writeYaml(
      [
        "targets:",
        "  Prod!:",
        "    host: local",
        "    appDir: /opt/app",
        "  prod:",
        "    host: ssh://deploy@203.0.113.10:22",
        "    appDir: relative/dir",
        "    services:",
        "      worker: { min: 5, max: 2 }",
      ].join("\n"),
    );
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: path });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = result.problems.join("\n");
    expect(text).toContain("targets.prod.ssh: is required for ssh:// targets");
    expect(text).toContain("targets.prod.appDir: must be an absolute path");
    expect(text).toContain("targets.prod.services.worker: min must not exceed max");
    expect(text).toMatch(/targets(\.Prod!)?: /);
  });

  it("reports YAML syntax errors with the file name", () => {
    const path = writeYaml("targets: [unclosed\n");
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: path });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toContain(path);
  });

  it("accepts the shipped example config", () => {
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: "deploy/opsgram.example.yml" });
    expect(result.ok ? "ok" : result.problems).toBe("ok");
  });
});
