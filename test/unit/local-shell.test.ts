import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalShell } from "../../src/infra/local/shell.js";

let dir: string;
const shell = new LocalShell();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsgram-local-"));
});
afterAll(async () => {
  await shell.close();
  rmSync(dir, { recursive: true, force: true });
});

function alive(pattern: string): boolean {
  try {
    execFileSync("pgrep", ["-f", pattern], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("LocalShell", () => {
  it("runs an argv, quoted once, and returns code and output", async () => {
    const r = await shell.exec(["sh", "-c", 'printf "%s" "$1"; printf err >&2; exit 3', "sh", "a b'c"], { timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 3, stdout: "a b'c", stderr: "err", timedOut: false, truncated: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("runs a trusted line as written, in cwd", async () => {
    const r = await shell.execTrusted("pwd; echo $((1+2))", { cwd: dir, timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${dir}\n3\n`);
  });

  it("does not run the command when cwd does not exist", async () => {
    const marker = join(dir, "ran");
    const r = await shell.execTrusted(`touch ${marker}; touch ${marker}2`, { cwd: join(dir, "missing"), timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/can't cd|No such file/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}2`)).toBe(false);
  });

  it("passes extra env and keeps the bot's secrets out", async () => {
    process.env.OPSGRAM_TEST_SECRET = "s3cret";
    try {
      const r = await new LocalShell({ env: { FROM_TARGET: "t" } }).execTrusted('echo "$FROM_TARGET/$EXTRA/${OPSGRAM_TEST_SECRET:-none}"', {
        timeoutMs: 5000,
        env: { EXTRA: "x y" },
      });
      expect(r.stdout).toBe("t/x y/none\n");
    } finally {
      delete process.env.OPSGRAM_TEST_SECRET;
    }
    await expect(shell.execTrusted("true", { timeoutMs: 1000, env: { "A;B": "x" } })).rejects.toThrow(TypeError);
  });

  it("kills the whole process group at the timeout, background children included", async () => {
    const tag = `${Date.now() % 100000}.${process.pid % 1000}`;
    const started = Date.now();
    const r = await shell.execTrusted(`sleep 1000${tag} 2>/dev/null || sleep 100${tag} & sleep 200${tag}; echo never`, {
      timeoutMs: 500,
    });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.stdout).toBe("");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(alive(`sleep 100${tag}`)).toBe(false);
    expect(alive(`sleep 200${tag}`)).toBe(false);
  });

  it("escalates to KILL when the group ignores TERM", async () => {
    const tag = `${Date.now() % 100000}.${process.pid % 1000}`;
    const stubborn = new LocalShell({ killAfterMs: 700 });
    const r = await stubborn.execTrusted(`trap '' TERM; sleep 300${tag} & wait; wait`, { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(r.durationMs).toBeLessThan(3000);
    expect(alive(`sleep 300${tag}`)).toBe(false);
  });

  it("streams output and keeps the tail when capped", async () => {
    const chunks: string[] = [];
    const r = await shell.execTrusted("seq 1 20000", {
      timeoutMs: 5000,
      maxOutputBytes: 12,
      onOutput: (text) => chunks.push(text),
    });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toBe("19999\n20000\n");
    expect(chunks.join("").split("\n")).toHaveLength(20001);
  });

  it("refuses a non-positive timeout", async () => {
    await expect(shell.execTrusted("true", { timeoutMs: 0 })).rejects.toThrow(TypeError);
  });
});
