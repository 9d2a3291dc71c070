import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";

/**
 * Every shipped example config loads through the same validator the bot runs at start, with the
 * environment variables it names (`${VAR}`, `tokenEnv:`) set to dummy values.
 */
const EXAMPLES_DIR = "deploy/examples";
const TOKEN = `123456:${"A".repeat(20)}examples`;

const examples = readdirSync(EXAMPLES_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => join(EXAMPLES_DIR, e.name, "opsgram.yml"))
  .sort();

/** Variables opsgram substitutes: `${VAR}` in header values, and `tokenEnv:` (shell lines keep their own `${…}`). */
function referencedEnv(text: string): Record<string, string> {
  const headerLines = text.split("\n").filter((l) => /headers:/.test(l)).join("\n");
  const names = [...headerLines.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g), ...text.matchAll(/tokenEnv:\s*([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
  return Object.fromEntries(names.map((n) => [n, `dummy-${n.toLowerCase()}`]));
}

describe("deploy/examples", () => {
  it("has one example per runbook (000–004)", () => {
    expect(examples.map((p) => p.split("/")[2]?.slice(0, 3))).toEqual(["000", "001", "002", "003", "004"]);
  });

  it.each(examples)("%s loads without problems", (path) => {
    const text = readFileSync(path, "utf8");
    const env = referencedEnv(text);
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: path, ...env });
    expect(result.ok ? "ok" : result.problems).toBe("ok");
    if (!result.ok) return;
    expect(Object.keys(result.config.ops.targets).length).toBeGreaterThan(0);
    // Every referenced variable was substituted and is known for redaction.
    for (const value of Object.values(env)) expect(result.config.secrets).toContain(value);
    const headers = Object.values(result.config.ops.targets).flatMap((t) => [...t.deploy.healthcheck, ...t.health.http].map((c) => c.headers));
    expect(JSON.stringify(headers)).not.toContain("${");
  });

  it.each(examples)("%s names the variables it needs: without them it does not load", (path) => {
    const env = referencedEnv(readFileSync(path, "utf8"));
    if (Object.keys(env).length === 0) return;
    const result = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: path });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    for (const name of Object.keys(env)) expect(result.problems.join("\n")).toContain(name);
  });
});
