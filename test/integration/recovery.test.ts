/**
 * Recovery against the real thing: the sandbox VPS (sshd, dockerd + compose, the app's Postgres)
 * with real pg_dump/pg_restore, and a real Postgres for opsgram. Goes through the operations layer
 * with a recording notifier; the chat flow on top is covered in test/unit.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger } from "../../src/infra/logger.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type Operations, type OperationRepositories } from "../../src/operations/index.js";
import { BackupSchedules } from "../../src/operations/schedule.js";
import { systemClock, type ExecOptions, type ExecResult, type RemoteShell } from "../../src/shared/ports.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { RecordingNotifier, alice, chatOf } from "../unit/operations-fakes.js";
import { RecordingShell } from "../support/recording-shell.js";
import { sandboxTarget } from "../support/sandbox-target.js";

const log = createLogger({ level: "silent" });
let sandbox: Sandbox;
let database: DatabaseHandle;
let repos: OperationRepositories;
let audit: PostgresAuditLog;
let connections: TargetConnections;
let shell: RecordingShell;
let offsite: string;
const running: Operations[] = [];


const psql = (sql: string, url = sandbox.appPostgresUrl) => execFileSync(`${sandbox.pgBinDir}/psql`, [url, "-qAtXc", sql], { encoding: "utf8" }).trim();
const pgRestoreList = (file: string) => execFileSync(`${sandbox.pgBinDir}/pg_restore`, ["--list", file], { encoding: "utf8" });

function buildConfig(backup: Record<string, unknown> = {}, deploy: Record<string, unknown> = {}): OpsFile {
  const bin = sandbox.pgBinDir;
  const base = new URL(sandbox.appPostgresUrl);
  const scratch = `drill_${process.pid}`;
  const scratchUrl = new URL(base.toString());
  scratchUrl.pathname = `/${scratch}`;
  const maintenance = new URL(base.toString());
  maintenance.pathname = "/postgres";
  return fileSchema.parse({
    targets: {
      prod: {
        ...sandboxTarget(sandbox),
        services: { worker: { min: 1, max: 3 } },
        deploy: { healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 15, intervalSeconds: 0.5 }, ...deploy },
        backup: {
          command: `${bin}/pg_dump -Fc ${sandbox.appPostgresUrl}`,
          dir: sandbox.backupDir,
          keep: 10,
          format: "custom",
          restore: `${bin}/pg_restore --clean --if-exists --no-owner --exit-on-error -d ${sandbox.appPostgresUrl}`,
          verify: `${bin}/pg_restore --file=/dev/null`,
          stopServices: ["worker"],
          drill: `${bin}/psql ${maintenance} -qXc 'DROP DATABASE IF EXISTS ${scratch}' && ${bin}/psql ${maintenance} -qXc 'CREATE DATABASE ${scratch}' && ${bin}/pg_restore --no-owner --exit-on-error -d ${scratchUrl}`,
          copy: `cp {path} ${offsite}/`,
          ...backup,
        },
      },
    },
    confirmTimeoutSeconds: 60,
  });
}

function makeOps(config: OpsFile = buildConfig()) {
  const notifier = new RecordingNotifier();
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, systemClock, log),
    targets: { prod: { shell, docker: connections.docker } },
    config,
    clock: systemClock,
    log,
  });
  running.push(ops);
  return { ops, notifier, config };
}

async function backupNow(ops: Operations) {
  const started = await chatOf(ops).backup(alice, []);
  if (started.status !== "started") throw new Error(JSON.stringify(started));
  const final = await started.done;
  await new Promise((r) => setTimeout(r, 1_100)); // file names carry the second
  return final;
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  offsite = join(sandbox.dir, "offsite");
  mkdirSync(offsite);
  database = await openDatabase({ url: createTestDatabase("recovery"), dataDir: sandbox.dir });
  await migrate(database);
  repos = createOperationRepositories(database.db);
  audit = new PostgresAuditLog(database.db);
  connections = createTargetConnections("prod", buildConfig().targets.prod!, log);
  shell = new RecordingShell(connections.shell);
});

afterAll(async () => {
  for (const ops of running) await ops.stop({ graceMs: 1_000 });
  await connections?.close();
  await database?.close();
  await sandbox?.stop();
});

describe("recovery against the sandbox VPS", () => {
  it("/restore: rows deleted after a backup are back; the safety backup exists and verifies; copy left the file off-site", async () => {
    const { ops, notifier } = makeOps();
    const before = psql("SELECT count(*) FROM payouts");
    expect(Number(before)).toBeGreaterThan(0);
    const final = await backupNow(ops);
    expect(final.status).toBe("succeeded");
    const taken = (await repos.backups.recent("prod", 1))[0]!;
    expect(taken).toMatchObject({ verified: true, verification: "backup.verify" });
    expect(statSync(taken.path!).mode & 0o077).toBe(0);
    expect(readdirSync(offsite)).toContain(taken.path!.split("/").at(-1));

    psql("DELETE FROM payouts WHERE id % 2 = 0");
    const after = psql("SELECT count(*) FROM payouts");
    expect(Number(after)).toBeLessThan(Number(before));

    const choices = await ops.restore.choices(alice, { target: "prod", input: [] });
    expect(choices.status === "choices" && choices.backups[0]?.id).toBe(taken.id);
    const started = await ops.restore.request(alice, { target: "prod", input: [], backupId: taken.id, typed: "prod" });
    if (started.status !== "started") throw new Error(JSON.stringify(started));
    const restored = await started.done;
    const text = notifier.messages.at(-1)!.texts.at(-1)!;
    expect(restored.status, text).toBe("succeeded");
    expect(psql("SELECT count(*) FROM payouts")).toBe(before);
    expect(text).toMatch(new RegExp(`✅ restored <code>${taken.path}</code> in [\\d.]+ s · safety backup <code>(${sandbox.backupDir}/prod-\\d{8}T\\d{6}Z\\.dump)</code>`));
    const safetyPath = /safety backup <code>([^<]+)<\/code>/.exec(text)![1]!;
    expect(existsSync(safetyPath)).toBe(true);
    expect(pgRestoreList(safetyPath)).toMatch(/TABLE DATA public payouts/);
    // The safety backup holds the database as it was just before: the rows deleted above are missing there.
    const safety = (await repos.backups.recent("prod", 5)).find((b) => b.path === safetyPath)!;
    expect(safety.verified).toBe(true);
    const actions = (await audit.recent(200)).filter((e) => e.operationId === started.operationId).map((e) => e.outcome);
    expect(actions).toEqual(expect.arrayContaining(["requested", "started", "succeeded"]));
  }, 120_000);

  it("a mistyped target name runs nothing", async () => {
    const { ops } = makeOps();
    const b = (await repos.backups.recent("prod", 1))[0]!;
    shell.calls.length = 0;
    expect(await ops.restore.request(alice, { target: "prod", input: [], backupId: b.id, typed: "production" })).toMatchObject({ status: "refused" });
    expect(shell.calls).toEqual([]);
  });

  it("a failing pg_dump inside | gzip fails the backup: no file, no row", async () => {
    const { ops } = makeOps(buildConfig({ command: `${sandbox.pgBinDir}/pg_dump postgres://nobody@127.0.0.1:1/none | gzip`, format: "gzip", verify: undefined, copy: undefined }));
    const filesBefore = readdirSync(sandbox.backupDir).sort();
    const rowsBefore = (await repos.backups.recent("prod", 100)).filter((b) => b.status === "succeeded").length;
    const final = await backupNow(ops);
    expect(final.status).toBe("failed");
    expect(readdirSync(sandbox.backupDir).sort()).toEqual(filesBefore);
    expect((await repos.backups.recent("prod", 100)).filter((b) => b.status === "succeeded").length).toBe(rowsBefore);
    expect((await repos.backups.recent("prod", 1))[0]).toMatchObject({ status: "failed", error: expect.stringContaining("backup.command failed") });
  });

  it("a truncated custom dump fails verification and the drill; a good one drills ok", async () => {
    const { ops } = makeOps(buildConfig({ verify: undefined, copy: undefined }));
    const good = await ops.restore.drill(alice, { target: "prod", input: [] });
    if (good.status !== "started") throw new Error(JSON.stringify(good));
    expect((await good.done).status).toBe("succeeded");
    expect(await repos.backups.lastDrill("prod", true)).toMatchObject({ ok: true });

    const latest = (await repos.backups.recent("prod", 10)).find((b) => b.status === "succeeded" && b.path)!;
    const cut = latest.path!.replace(/\.dump$/, "9.dump");
    const bytes = readFileSync(latest.path!);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // pg_restore --list alone would pass: the table of contents sits at the front.
    expect(() => pgRestoreList(cut)).not.toThrow();
    const { verifyScript } = await import("../../src/commands/backup.js");
    const check = await connections.shell.execTrusted(verifyScript(cut, "custom", undefined), { cwd: sandbox.appDir, timeoutMs: 60_000 });
    expect(check.code).not.toBe(0);
    expect(check.stderr).toMatch(/damaged or cut short/);
    await repos.backups.insert({ target: "prod", operationId: null, path: cut, sizeBytes: 1, durationMs: 1, status: "succeeded", createdAt: new Date(), error: null, verified: false, verification: "test", deploymentId: null });
    const bad = await ops.restore.drill(alice, { target: "prod", input: [] });
    if (bad.status !== "started") throw new Error(JSON.stringify(bad));
    expect((await bad.done).status).toBe("failed");
    expect(await repos.backups.lastDrill("prod")).toMatchObject({ ok: false, path: cut });
    await repos.backups.markPruned((await repos.backups.recent("prod", 1))[0]!.id, new Date());
  }, 120_000);

  it("a scheduled backup runs as opsgram (schedule) and is recorded", async () => {
    const { ops, notifier, config } = makeOps(buildConfig({ schedule: "0 3 * * *", copy: undefined }));
    const schedules = new BackupSchedules({ operations: ops, config, notifier, alertChatIds: [-100], log });
    expect(schedules.nextRuns()[0]).toMatchObject({ kind: "backup", at: expect.any(Date) });
    const result = await schedules.fire("prod", "backup");
    expect(result.status).toBe("started");
    const row = (await repos.backups.recent("prod", 1))[0]!;
    expect(row).toMatchObject({ status: "succeeded", verified: true });
    const requested = (await audit.recent(50)).find((e) => e.operationId === row.operationId && e.outcome === "requested");
    expect(requested?.username).toBe("opsgram (schedule)");
    await schedules.stop();
  }, 60_000);

  it("rollback with the database: [Code + restore DB] puts back the code and a database without the new version's marker; rollbackSteps ran in the checkout being left", async () => {
    const downLog = join(sandbox.dir, "down-ran-at");
    const config = buildConfig(
      { copy: undefined },
      {
        backupFirst: true,
        steps: [{ name: "marker", run: `${sandbox.pgBinDir}/psql ${sandbox.appPostgresUrl} -qXc "INSERT INTO payouts (id, amount) VALUES (999999, 1)"` }],
        rollbackSteps: [{ name: "downgrade", run: `git rev-parse HEAD > ${downLog}` }],
      },
    );
    const { ops, notifier } = makeOps(config);
    const head = () => execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const before = head();
    const planned = await chatOf(ops).deploy(alice, ["release/v2"]);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    const pressed = await ops.service.confirm(alice, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
    expect((await pressed.done).status).toBe("succeeded");
    expect(head()).toBe(sandbox.versions.v2);
    expect(psql("SELECT count(*) FROM payouts WHERE id = 999999")).toBe("1");
    const deployment = await repos.deployments.lastSucceeded("prod");
    const dump = await repos.backups.byDeployment(deployment!.id);
    expect(dump).toMatchObject({ status: "succeeded", verified: true });

    const rb = await chatOf(ops).rollback(alice, []);
    if (rb.status !== "planned") throw new Error(JSON.stringify(rb));
    const plan = notifier.messages.at(-1)!;
    const buttons = plan.options[0]?.buttons?.flat().map((b) => b.text) ?? [];
    expect(buttons).toEqual(["↩ Code only", `↩ Code + restore DB from ${dump!.path!.split("/").at(-1)}`, "✖ Cancel", "Choose another…"]);
    expect(plan.texts[0]).toContain(`Deployment #${deployment!.id} took a backup first`);
    const withDb = await chatOf(ops).press(alice, `op:d:${rb.operationId}`, rb.message);
    if (withDb.status !== "confirmed") throw new Error(JSON.stringify(withDb));
    const final = await withDb.done;
    const text = notifier.messages.at(-1)!.texts.at(-1)!;
    expect(final.status, text).toBe("succeeded");
    expect(head()).toBe(before);
    expect(readFileSync(downLog, "utf8").trim()).toBe(sandbox.versions.v2);
    expect(psql("SELECT count(*) FROM payouts WHERE id = 999999")).toBe("0");
    expect(text).toMatch(/✅ rolled back to <code>[0-9a-f]{7}<\/code> and restored the database from <code>.*<\/code> in .* · safety backup <code>/);
  }, 240_000);

  it("chat flow state round-trips through Postgres; idle flows read as gone and are swept", async () => {
    const { PostgresConversationStorage } = await import("../../src/infra/db/conversation-storage.js");
    const store = new PostgresConversationStorage(database.db, 60_000);
    const value = { version: [0, 1] as [0, number], state: { restore: [{ args: '["prod"]', interrupts: [1], replay: { send: [], receive: [] } }] } };
    await store.write("flow:-100", value as never);
    expect(await store.read("flow:-100")).toEqual(value);
    expect(await store.sweep(new Date(Date.now() + 30_000))).toEqual([]);
    expect(await store.sweep(new Date(Date.now() + 120_000))).toEqual(["flow:-100"]);
    expect(await store.read("flow:-100")).toBeUndefined();
  });
});
