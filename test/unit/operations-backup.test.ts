import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupPath, copyLine, dumpLine, dumpScript, readReport, removeFiles, restoreScript, unchangedScript, utcStamp, verifyScript } from "../../src/commands/backup.js";
import { createOperations } from "../../src/operations/index.js";
import type { ExecResult } from "../../src/shared/ports.js";
import { JumpClock, alice, bob, makeDeps, opsConfig, FakeShell, chatOf } from "./operations-fakes.js";

const at = new Date(Date.UTC(2026, 10, 22, 3, 4, 5, 678));
const dir = mkdtempSync(join(tmpdir(), "opsgram-backup-unit-"));
const bin = join(dir, "bin");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a line the way the target does (`sh -c`), with fake pg tools first on PATH. */
function sh(line: string): ExecResult {
  const r = spawnSync("sh", ["-c", line], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: false, truncated: false, durationMs: 1 };
}

function tool(name: string, body: string): void {
  const path = join(bin, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(() => {
  spawnSync("mkdir", ["-p", bin]);
  // A plain-format pg_dump that completes, and one that dies half-way.
  tool("fake_dump_ok", `printf 'CREATE TABLE t();\\n-- PostgreSQL database dump complete\\n'`);
  tool("fake_dump_dies", `printf 'CREATE TABLE t();\\n'; echo 'pg_dump: error: connection lost' >&2; exit 1`);
  tool("fake_dump_cut", `printf 'CREATE TABLE t();\\n'`);
});

describe("backup command builders", () => {
  it("names files <dir>/<target>-<UTC yyyymmddTHHMMSSZ>.<ext>", () => {
    expect(utcStamp(at)).toBe("20261122T030405Z");
    expect(backupPath("/var/backups/app", "prod", at, "custom")).toBe("/var/backups/app/prod-20261122T030405Z.dump");
    expect(backupPath("/var/backups/app/", "prod", at, "gzip")).toBe("/var/backups/app/prod-20261122T030405Z.sql.gz");
    expect(backupPath("/b", "prod", at, "plain")).toBe("/b/prod-20261122T030405Z.sql");
    expect(() => backupPath("/b", "../x", at, "custom")).toThrow(TypeError);
    expect(() => backupPath("relative", "prod", at, "custom")).toThrow(TypeError);
    expect(removeFiles(["/b/a.dump", "/b/b.dump"])).toEqual(["rm", "-f", "--", "/b/a.dump", "/b/b.dump"]);
    expect(() => removeFiles(["/b/../etc/passwd"])).toThrow(TypeError);
    expect(() => removeFiles(["-rf"])).toThrow(TypeError);
  });

  it("the dump redirect covers a whole operator line, even one ending in a comment or chaining commands", () => {
    const out = join(dir, "it's a dump.partial");
    sh(dumpLine("echo one; echo two # trailing comment", out));
    expect(readFileSync(out, "utf8")).toBe("one\ntwo\n");
  });

  it("copy: {path} becomes one quoted word, whatever the path holds", () => {
    const weird = join(dir, "$(touch MARK) `id`.sql");
    writeFileSync(weird, "x");
    const offsite = join(dir, "offsite");
    spawnSync("mkdir", ["-p", offsite]);
    expect(sh(copyLine(`cp {path} ${offsite}/`, weird)).code).toBe(0);
    expect(readdirSync(offsite)).toEqual(["$(touch MARK) `id`.sql"]);
    expect(existsSync(join(dir, "MARK"))).toBe(false);
  });
});

describe("dump script, run for real under sh (bash inside)", () => {
  const run = (command: string, format: "plain" | "gzip" | "custom", name: string, verify?: string) => {
    const path = join(dir, "dumps", name);
    return { path, result: sh(dumpScript({ command, dir: join(dir, "dumps"), path, format, verify })) };
  };

  it("plain: a complete dump is verified by its closing line, moved into place, sized, mode 600", () => {
    const { path, result } = run("fake_dump_ok", "plain", "a.sql");
    expect(result.code).toBe(0);
    expect(readReport(result.stdout)).toEqual({ verified: true, verification: "closing line", sizeBytes: statSync(path).size });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it("gzip: pg_dump failing inside `| gzip` fails the backup (pipefail): no file left", () => {
    const { path, result } = run("fake_dump_dies | gzip", "gzip", "b.sql.gz");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/opsgram: backup\.command failed \(exit 1\)/);
    expect(existsSync(path) || existsSync(`${path}.partial`)).toBe(false);
  });

  it("gzip: a dump that ends early (exit 0, no closing line) is refused", () => {
    const { path, result } = run("fake_dump_cut | gzip", "gzip", "c.sql.gz");
    expect(result.stderr).toMatch(/no closing line/);
    expect(existsSync(path) || existsSync(`${path}.partial`)).toBe(false);
    const ok = run("fake_dump_ok | gzip", "gzip", "d.sql.gz");
    expect(readReport(ok.result.stdout)).toMatchObject({ verified: true, verification: "gunzip + closing line" });
  });

  it("custom without pg_restore: a PGDMP header is recorded as unverified, never verified", () => {
    // A PATH with the basic tools but no pg_restore, as on a host whose Postgres lives in a container.
    const nopg = join(dir, "nopg");
    spawnSync("mkdir", ["-p", nopg]);
    for (const t of ["bash", "mkdir", "head", "stat", "mv", "rm"]) spawnSync("ln", ["-sf", spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim(), join(nopg, t)]);
    const path = join(dir, "dumps", "e.dump");
    const r = sh(`PATH=${nopg}; export PATH; ${dumpScript({ command: "printf 'PGDMPxxxx'", dir: join(dir, "dumps"), path, format: "custom" })}`);
    expect(r.code).toBe(0);
    expect(readReport(r.stdout)).toMatchObject({ verified: false, verification: expect.stringContaining("PGDMP header only") });
    const foreign = sh(`PATH=${nopg}; export PATH; ${dumpScript({ command: "printf 'hello'", dir: join(dir, "dumps"), path: join(dir, "dumps", "e2.dump"), format: "custom" })}`);
    expect(foreign.stderr).toMatch(/no PGDMP header/);
  });

  it("custom with backup.verify: the file reaches it on stdin; a rejection fails the backup", () => {
    const good = run("printf 'PGDMPgood'", "custom", "f.dump", "grep -q good");
    expect(readReport(good.result.stdout)).toMatchObject({ verified: true, verification: "backup.verify" });
    const bad = run("printf 'PGDMPcut'", "custom", "g.dump", "grep -q good");
    expect(bad.result.stderr).toMatch(/backup\.verify rejected the dump/);
    expect(existsSync(bad.path)).toBe(false);
    expect(sh(verifyScript(good.path, "custom", "grep -q good")).code).toBe(0);
  });

  it("a verified backup is checked before a restore by its recorded size", () => {
    const { path } = run("fake_dump_ok", "plain", "j.sql");
    expect(sh(unchangedScript(path, statSync(path).size)).code).toBe(0);
    const changed = sh(unchangedScript(path, statSync(path).size + 1));
    expect(changed.stderr).toMatch(/missing or changed since it was verified/);
    expect(sh(unchangedScript(join(dir, "gone.sql"), 10)).code).not.toBe(0);
  });

  it("never overwrites an existing backup", () => {
    const first = run("fake_dump_ok", "plain", "h.sql");
    expect(first.result.code).toBe(0);
    const again = run("fake_dump_ok", "plain", "h.sql");
    expect(again.result.stderr).toMatch(/already exists/);
  });

  it("restore: the whole line reads the file (pipes included); a missing file runs nothing", () => {
    const { path } = run("fake_dump_ok | gzip", "gzip", "i.sql.gz");
    const out = join(dir, "restored.sql");
    expect(sh(restoreScript(`gunzip -c | cat > ${out}`, path)).code).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("dump complete");
    const r = sh(restoreScript(`touch ${join(dir, "RAN")}`, join(dir, "nope.sql")));
    expect(r.code).not.toBe(0);
    expect(existsSync(join(dir, "RAN"))).toBe(false);
    expect(sh(restoreScript("false | cat", path)).code).not.toBe(0);
  });
});

describe("/backup operation (fakes)", () => {
  it("one command per backup, recorded with how it was verified, pruned beyond keep in one more", async () => {
    let files: string[] = [];
    const shell = new FakeShell((cmd) => {
      if (typeof cmd === "string") {
        const path = /mv -- \S+ (\S+)/.exec(cmd)?.[1] ?? "";
        files.push(path.replace(/^'|'$/g, ""));
        return { code: 0, stdout: "opsgram-verified: pg_restore read 2 entries\nopsgram-size: 12897484\n" };
      }
      if (cmd[0] === "rm") files = files.filter((f) => !cmd.includes(f));
      return { code: 0 };
    });
    const clock = new JumpClock();
    const env = makeDeps({ shell, clock, config: opsConfig({ backup: { command: "pg_dump -Fc app", dir: "/var/backups/app", keep: 2 } }) });
    const ops = createOperations(env.deps);
    for (let i = 0; i < 3; i++) {
      const started = await chatOf(ops).backup(alice, []);
      if (started.status !== "started") throw new Error(JSON.stringify(started));
      expect((await started.done).status).toBe("succeeded");
      clock.t += 3600_000;
    }
    expect(shell.lines.filter((l) => l.startsWith("TRUSTED"))).toHaveLength(3);
    expect(shell.lines).toHaveLength(4);
    expect(files).toHaveLength(2);
    expect(env.repos.backups.rows.map((b) => b.status)).toEqual(["pruned", "succeeded", "succeeded"]);
    expect(env.repos.backups.rows[1]).toMatchObject({ sizeBytes: 12897484, verified: true, verification: "pg_restore read 2 entries", path: expect.stringMatching(/^\/var\/backups\/app\/prod-20261122T04\d{4}Z\.dump$/) });
    const text = env.notifier.messages.at(-1)!.texts.at(-1)!;
    expect(text).toMatch(/✅ backup \/var\/backups\/app\/prod-20261122T05\d{4}Z\.dump · 12\.3 MB · verified \(pg_restore read 2 entries\)/);
    expect(env.notifier.messages.every((m) => (m.options[0]?.buttons ?? []).length === 0)).toBe(true);
    expect(env.audit.events.filter((e) => e.action === "backup").map((e) => e.outcome)).toEqual(Array(3).fill(["requested", "started", "succeeded"]).flat());
    expect(await env.repos.locks.get("prod")).toBeNull();
    const list = await chatOf(ops).backups(alice, []);
    expect(list.status === "ok" && list.text).toMatch(/– \(pruned\)/);
  });

  it("pruning never deletes the newest verified backup older than a day", async () => {
    let n = 0;
    const shell = new FakeShell((cmd) => {
      if (typeof cmd !== "string") return { code: 0 };
      n++;
      // The first backup verifies; later ones only by header.
      return { code: 0, stdout: n === 1 ? "opsgram-verified: closing line\nopsgram-size: 10\n" : "opsgram-unverified: PGDMP header only\nopsgram-size: 10\n" };
    });
    const clock = new JumpClock();
    const env = makeDeps({ shell, clock, config: opsConfig({ backup: { command: "pg_dump", dir: "/b", keep: 1 } }) });
    const ops = createOperations(env.deps);
    for (let i = 0; i < 3; i++) {
      const started = await chatOf(ops).backup(alice, []);
      if (started.status !== "started") throw new Error("not started");
      expect((await started.done).status).toBe("succeeded");
      clock.t += 25 * 3600_000;
    }
    expect(env.repos.backups.rows.map((b) => [b.status, b.verified])).toEqual([["succeeded", true], ["pruned", false], ["succeeded", false]]);
    expect(env.notifier.messages.at(-1)!.texts.at(-1)).toMatch(/⚠ unverified \(PGDMP header only\)/);
  });

  it("a failing dump records a failed backup with the script's reason", async () => {
    const shell = new FakeShell((cmd) => (typeof cmd === "string" ? { code: 1, stderr: "pg_dump: error\nopsgram: backup.command failed (exit 1)\n" } : { code: 0 }));
    const env = makeDeps({ shell, config: opsConfig({ backup: { command: "pg_dump | gzip", dir: "/var/backups/app", format: "gzip" } }) });
    const ops = createOperations(env.deps);
    const started = await chatOf(ops).backup(alice, []);
    if (started.status !== "started") throw new Error("not started");
    expect((await started.done).status).toBe("failed");
    expect(env.repos.backups.rows.map((b) => [b.status, b.error])).toEqual([["failed", "backup.command failed (exit 1)"]]);
  });

  it("copy failure is reported on the backup's message and audited; the backup still counts", async () => {
    const shell = new FakeShell((cmd) => {
      if (typeof cmd === "string" && cmd.includes("rclone")) return { code: 3 };
      return { code: 0, stdout: "opsgram-verified: closing line\nopsgram-size: 10\n" };
    });
    const env = makeDeps({ shell, config: opsConfig({ backup: { command: "pg_dump", dir: "/b", format: "plain", copy: "rclone copy {path} offsite:x/" } }) });
    const ops = createOperations(env.deps);
    const started = await chatOf(ops).backup(alice, []);
    if (started.status !== "started") throw new Error("not started");
    expect((await started.done).status).toBe("succeeded");
    expect(shell.lines.find((l) => l.includes("rclone"))).toMatch(/rclone copy \/b\/prod-\d{8}T\d{6}Z\.sql offsite/);
    expect(env.notifier.messages.at(-1)!.texts.at(-1)).toMatch(/⚠ copy failed: backup\.copy exited 3 \(the local file stays\)/);
    expect(env.audit.events.some((e) => e.action === "backup.copy" && e.outcome === "failed")).toBe(true);
    expect(env.repos.backups.rows.map((b) => b.status)).toEqual(["succeeded"]);
  });

  it("with fourEyes: [backup], /backup waits for someone else's Confirm instead of running at once", async () => {
    const env = makeDeps({ config: opsConfig({ backup: { command: "pg_dump -Fc app", dir: "/var/backups/app" } }, { fourEyes: ["backup"] }) });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).backup(alice, []);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    expect(env.notifier.messages[0]!.texts[0]).toContain("someone else must confirm");
    expect(env.shell.lines.filter((l) => l.includes("pg_dump"))).toHaveLength(0);
    expect(await ops.service.confirm(alice, planned.operationId, planned.message)).toMatchObject({ status: "refused", text: expect.stringContaining("Four eyes") });
    expect((await ops.service.confirm(bob, planned.operationId, planned.message)).status).toBe("confirmed");
    await ops.engine.whenIdle();
  });

  it("refuses when another operation holds the target, and when no backup is configured", async () => {
    const env = makeDeps({ config: opsConfig({ backup: { command: "x", dir: "/b" } }) });
    const ops = createOperations(env.deps);
    await ops.locks.freeze("prod", alice, "maintenance");
    expect(await chatOf(ops).backup(alice, [])).toMatchObject({ status: "refused", reason: expect.stringContaining("frozen by @alice") });
    const bare = createOperations(makeDeps().deps);
    expect(await chatOf(bare).backup(alice, [])).toMatchObject({ status: "refused", reason: expect.stringContaining("No backup is configured") });
  });
});

