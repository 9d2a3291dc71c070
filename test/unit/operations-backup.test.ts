import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  assertAbsent,
  backupPath,
  dumpLine,
  fileSize,
  gzipTest,
  mkdirP,
  moveInto,
  partialPath,
  pgRestoreList,
  removeFile,
  testNonEmpty,
  utcStamp,
} from "../../src/commands/backup.js";
import { toCommandLine } from "../../src/commands/quote.js";
import { createOperations } from "../../src/operations/index.js";
import { JumpClock, alice, bob, makeDeps, opsConfig, FakeShell, chatOf } from "./operations-fakes.js";

const at = new Date(Date.UTC(2026, 10, 22, 3, 4, 5, 678));

describe("backup command builders", () => {
  it("names files <dir>/<target>-<UTC yyyymmddTHHMMSSZ>.<ext>", () => {
    expect(utcStamp(at)).toBe("20261122T030405Z");
    expect(backupPath("/var/backups/app", "prod", at, "custom")).toBe("/var/backups/app/prod-20261122T030405Z.dump");
    expect(backupPath("/var/backups/app/", "prod", at, "gzip")).toBe("/var/backups/app/prod-20261122T030405Z.sql.gz");
    expect(backupPath("/b", "prod", at, "plain")).toBe("/b/prod-20261122T030405Z.sql");
    expect(() => backupPath("/b", "../x", at, "custom")).toThrow(TypeError);
    expect(() => backupPath("relative", "prod", at, "custom")).toThrow(TypeError);
  });

  it("builds plain argument lists", () => {
    const p = "/b/prod-20261122T030405Z.dump";
    expect(mkdirP("/b")).toEqual(["mkdir", "-p", "--", "/b"]);
    expect(assertAbsent(p)).toEqual(["test", "!", "-e", p]);
    expect(testNonEmpty(p)).toEqual(["test", "-s", p]);
    expect(pgRestoreList(p)).toEqual(["pg_restore", "--list", p]);
    expect(gzipTest(p)).toEqual(["gzip", "-t", p]);
    expect(moveInto(partialPath(p), p)).toEqual(["mv", `${p}.partial`, p]);
    expect(fileSize(p)).toEqual(["stat", "-c", "%s", p]);
    expect(removeFile(p)).toEqual(["rm", "-f", p]);
    expect(() => removeFile("/b/../etc/passwd")).toThrow(TypeError);
    expect(() => removeFile("-rf")).toThrow(TypeError);
  });

  describe("run in /bin/sh", () => {
    const dir = mkdtempSync(join(tmpdir(), "opsgram-backup-unit-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const sh = (line: string) => execFileSync("sh", ["-c", line], { cwd: dir, encoding: "utf8" });

    it("the dump redirect covers a whole operator line, even one ending in a comment or chaining commands", () => {
      const out = join(dir, "it's a dump.partial");
      sh(dumpLine("echo one; echo two # trailing comment", out));
      expect(readFileSync(out, "utf8")).toBe("one\ntwo\n");
    });

    it("paths with shell characters stay one argument", () => {
      const weird = join(dir, "$(touch MARK) `id`.dump");
      sh(`${toCommandLine(["sh", "-c", "echo x > \"$1\"", "sh", weird])}`);
      sh(toCommandLine(testNonEmpty(weird)));
      sh(toCommandLine(removeFile(weird)));
      expect(readdirSync(dir).filter((f) => f.includes("MARK") || f === "MARK")).toEqual([]);
    });
  });
});

describe("/backup operation (fakes)", () => {
  it("dumps into a partial file, verifies, moves into place, records and prunes beyond keep", async () => {
    let files: string[] = [];
    const shell = new FakeShell((cmd) => {
      if (typeof cmd === "string") return { code: 0 };
      if (cmd[0] === "pg_restore") return { code: 0, stdout: ";\n; Archive\n1; 0 0 TABLE public payouts\n2; 0 0 TABLE DATA public payouts\n" };
      if (cmd[0] === "stat") return { code: 0, stdout: "12897484\n" };
      if (cmd[0] === "mv") files.push(cmd[2]!);
      if (cmd[0] === "rm") files = files.filter((f) => f !== cmd[2]);
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
    expect(files).toHaveLength(2);
    expect(env.repos.backups.rows.map((b) => b.status)).toEqual(["pruned", "succeeded", "succeeded"]);
    expect(env.repos.backups.rows[1]).toMatchObject({ sizeBytes: 12897484, path: expect.stringMatching(/^\/var\/backups\/app\/prod-20261122T04\d{4}Z\.dump$/) });
    const text = env.notifier.messages.at(-1)!.texts.at(-1)!;
    expect(text).toMatch(/✅ backup \/var\/backups\/app\/prod-20261122T05\d{4}Z\.dump · 12\.3 MB · verified \(pg_restore --list: 2 entries\)/);
    // No confirmation was asked, but the lock was taken and released.
    expect(env.notifier.messages.every((m) => (m.options[0]?.buttons ?? []).length === 0)).toBe(true);
    expect(env.audit.events.filter((e) => e.action === "backup").map((e) => e.outcome)).toEqual(Array(3).fill(["requested", "started", "succeeded"]).flat());
    expect(await env.repos.locks.get("prod")).toBeNull();
    const list = await chatOf(ops).backups(alice, []);
    expect(list.status === "ok" && list.text).toMatch(/– \(pruned\)/);
  });

  it("an empty dump fails, removes the partial file and records a failed backup", async () => {
    const shell = new FakeShell((cmd) => (Array.isArray(cmd) && cmd[0] === "test" && cmd[1] === "-s" ? { code: 1 } : { code: 0 }));
    const env = makeDeps({ shell, config: opsConfig({ backup: { command: "pg_dump -Fc app", dir: "/var/backups/app" } }) });
    const ops = createOperations(env.deps);
    const started = await chatOf(ops).backup(alice, []);
    if (started.status !== "started") throw new Error("not started");
    expect((await started.done).status).toBe("failed");
    expect(shell.lines.at(-1)).toMatch(/^rm -f \/var\/backups\/app\/prod-.*\.dump\.partial$/);
    expect(env.repos.backups.rows.map((b) => b.status)).toEqual(["failed"]);
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
