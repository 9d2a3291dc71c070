/**
 * The lease and the target-side lock against the real thing: the bot's Postgres (heartbeats and
 * staleness by its now()), and the sandbox VPS over SSH through a relay the test can cut.
 *
 * One sandbox for the file; each test leaves the target at v1 and unlocked.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { targetLockFile } from "../../src/commands/exec-line.js";
import type { OpsFile } from "../../src/config/file.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger } from "../../src/infra/logger.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type OperationRepositories, type Operations } from "../../src/operations/index.js";
import { systemClock } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { Relay } from "../support/relay.js";
import { CuttableProxy } from "../support/cuttable-proxy.js";
import { freePort } from "../support/ports.js";
import { run } from "@grammyjs/runner";
import { Api } from "grammy";
import { createBot } from "../../src/bot/bot.js";
import { createOperationsFeature } from "../../src/bot/handlers/operations.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { AuditJournal, JournaledAuditLog, PostgresJournalReplayStore } from "../../src/infra/journal/index.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";
import { startHealth } from "../../src/health/index.js";
import { RecordingNotifier, alice, bob, carol, chatOf, confirmDeploy, healthPorts, leaseConfig, orphanAlive, unlockData, until } from "./lease-support.js";

const log = createLogger({ level: "silent" });
/** A sleep no other process on the machine runs: its pid is the orphan the tests look for. */
const SLOW = "sleep 4.321";
let sandbox: Sandbox;
let database: DatabaseHandle;
let repos: OperationRepositories;
let audit: PostgresAuditLog;
let relay: Relay;
let connections: TargetConnections;
let config: OpsFile;
const started: Operations[] = [];

function makeOps(notifier = new RecordingNotifier()) {
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, systemClock, log),
    targets: { prod: { shell: connections.shell, docker: connections.docker } },
    config,
    clock: systemClock,
    log,
  });
  started.push(ops);
  return { ops, notifier };
}

function resetTarget(): void {
  execFileSync("git", ["-C", sandbox.appDir, "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "--force", sandbox.versions.v1]);
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  database = await openDatabase({ url: createTestDatabase("lease"), dataDir: sandbox.dir });
  await migrate(database);
  repos = createOperationRepositories(database.db);
  audit = new PostgresAuditLog(database.db);
  relay = new Relay();
  await relay.start(sandbox.ssh.port);
  config = leaseConfig(sandbox, relay.port, SLOW);
  connections = createTargetConnections("prod", config.targets.prod!, log);
});

afterAll(async () => {
  for (const ops of started) await ops.stop({ graceMs: 1_000 });
  await connections?.close();
  await relay?.stop();
  await database?.close();
  await sandbox?.stop();
});

describe("the lease, by the database's clock", () => {
  it("a second operation is refused while the heartbeat is fresh; a heartbeat gone stale stops the run before its next step, and the target stays frozen", async () => {
    const first = makeOps();
    const second = makeOps();
    const { planned, done } = await confirmDeploy(first.ops, "release/v2");
    await until("the slow operator step", () => orphanAlive(SLOW));

    // Another opsgram (its own service over the same database) is refused: the holder is alive.
    const refused = await chatOf(second.ops).deploy(carol, ["release/v2"]);
    expect(refused).toMatchObject({ status: "refused", reason: expect.stringMatching(/prod is busy: @alice is running deploy release\/v2/) });
    expect(await chatOf(second.ops).unlock(carol, [])).toMatchObject({ status: "refused" });

    // The holder's heartbeats stop counting (a database outage, a suspended VM): its heartbeat
    // is three minutes old by the database's now(), whatever the bot's clock says.
    await database.db.execute(sql`update locks set heartbeat_at = now() - interval '3 minutes' where target = 'prod'`);
    const agedAt = Date.now();
    const final = await done;
    const stoppedAfterMs = Date.now() - agedAt;
    console.log(`[timing] heartbeat made stale → run stopped before its next step: ${stoppedAfterMs} ms (the slow step was still running)`);

    expect(final.status).toBe("failed");
    expect(final.error).toMatch(/lost the lock on prod: its heartbeat went stale/);
    const steps = (await audit.recent(50)).filter((e) => e.operationId === planned.operationId && e.action === "deploy.step").map((e) => (e.detail as { step: { id: string } }).step.id).reverse();
    expect(steps).toEqual(["fetch", "checkout", "build", "step-slow"]);
    const lock = await repos.locks.get("prod");
    expect(lock).toMatchObject({ kind: "freeze", operationId: null, reason: expect.stringContaining("heartbeat went stale") });
    expect(first.notifier.messages.some((m) => m.texts.some((t) => t.includes("🧊 <b>prod is frozen</b>")))).toBe(true);
    // A frozen target refuses the next deploy from either process.
    expect(await chatOf(second.ops).deploy(carol, ["release/v2"])).toMatchObject({ status: "refused", reason: expect.stringContaining("frozen") });

    expect(await chatOf(second.ops).pressUnlock(carol, unlockData(first.notifier).replace("fz:u:", "fz:c:"))).toMatchObject({ status: "done" });
    expect(await repos.locks.get("prod")).toBeNull();
    resetTarget();
  });
});

describe("flock on the target", () => {
  it("the SSH link drops during a step: nothing more starts, the orphan keeps the target's flock until it ends, the target is frozen; [Unlock] + Confirm release it", async () => {
    const { ops, notifier } = makeOps();
    const { done } = await confirmDeploy(ops, "release/v2");
    await until("the slow operator step", () => orphanAlive(SLOW));
    relay.cut();
    const cutAt = Date.now();
    const final = await done;
    console.log(`[timing] link cut → run ended: ${Date.now() - cutAt} ms`);

    expect(final.status).toBe("failed");
    expect(final.error).toMatch(/slow: SSH connection to .* was lost while a command was running/);
    expect(notifier.messages.flatMap((m) => m.texts).some((t) => t.includes("dropped during slow: it may still be running there; nothing more was started"))).toBe(true);
    // The remote step outlived the link, and it still holds the target's lock file.
    expect(orphanAlive(SLOW)).toBe(true);
    const lockFile = targetLockFile(sandbox.appDir);
    expect(() => execFileSync("flock", ["-n", lockFile, "true"])).toThrow();
    // Anything opsgram runs there now waits for it (over a fresh connection).
    const waitStarted = Date.now();
    const result = await connections.shell.exec(["git", "rev-parse", "HEAD"], { cwd: sandbox.appDir, timeoutMs: 30_000, lockFile });
    const waitedMs = Date.now() - waitStarted;
    console.log(`[timing] a flocked command waited for the orphan: ${waitedMs} ms`);
    expect(result.code).toBe(0);
    expect(orphanAlive(SLOW)).toBe(false);
    expect(waitedMs).toBeGreaterThan(500);

    expect(await repos.locks.get("prod")).toMatchObject({ kind: "freeze", reason: expect.stringContaining("connection lost during slow") });
    const frozenText = notifier.messages.flatMap((m) => m.texts).find((t) => t.includes("🧊"));
    expect(frozenText).toMatch(/prod now: <code>\w{7}<\/code> checked out/);

    const chat = chatOf(ops);
    const ask = await chat.pressUnlock(bob, unlockData(notifier));
    expect(ask.status).toBe("ask");
    expect(await repos.locks.get("prod")).not.toBeNull();
    const confirm = ask.status === "ask" ? ask.buttons[0]![0]!.data : "";
    expect(await chat.pressUnlock(bob, confirm)).toMatchObject({ status: "done", text: "🔓 prod is unlocked by @bob." });
    expect(await repos.locks.get("prod")).toBeNull();
    const unlockRows = (await audit.recent(10)).filter((e) => e.action === "unlock").map((e) => e.outcome);
    expect(unlockRows.slice(0, 2)).toEqual(["succeeded", "requested"]);
    resetTarget();
  });
});

describe("the kill switch without the database", () => {
  it("Postgres down: /pause_payouts flips the real Redis key, /deploy refuses; once it is back the pause rows are in audit_events once, chain intact", async () => {
    const url = createTestDatabase("lease-outage");
    const direct = await openDatabase({ url, dataDir: sandbox.dir });
    await migrate(direct);
    const proxy = new CuttableProxy(await freePort(), Number(new URL(url).port));
    await proxy.up();
    const proxied = new URL(url);
    proxied.port = String(proxy.port);
    const viaProxy = await openDatabase({ url: proxied.toString(), dataDir: sandbox.dir });
    const journaled = new JournaledAuditLog({
      inner: new PostgresAuditLog(viaProxy.db),
      journal: new AuditJournal(join(mkdtempSync(join(tmpdir(), "opsgram-lease-journal-")), "audit-journal.jsonl")),
      store: new PostgresJournalReplayStore(viaProxy.db),
      clock: systemClock,
      log,
      directTimeoutMs: 1_000,
      replayEveryMs: 500,
    });
    const emulator = await BotApiEmulator.start();
    const GROUP = { id: -1001000000077, type: "supergroup" as const, title: "ops" };
    const ONCALL = { id: 7001, username: "oncall" };
    const api = new Api(emulator.token, { apiRoot: emulator.apiRoot });
    const ops = createOperations({
      repos: createOperationRepositories(viaProxy.db),
      audit: journaled,
      reporter: new ChatReporter(new TelegramNotifier(api, { perChatIntervalMs: 100 }), systemClock, log),
      targets: { prod: { shell: connections.shell, docker: connections.docker } },
      config,
      clock: systemClock,
      log,
    });
    started.push(ops);
    const bot = createBot({
      token: emulator.token,
      apiRoot: emulator.apiRoot,
      rules: { adminChatIds: [GROUP.id], adminUserIds: [ONCALL.id] },
      audit: journaled,
      processedUpdates: new ProcessedUpdates(viaProxy.db),
      features: [createOperationsFeature({ chat: chatOf(ops) })],
      log,
      configureApi: () => {},
      botInfo: await api.getMe(),
    });
    const runner = run(bot);
    const redis = (...args: string[]) => execFileSync("redis-cli", [...sandbox.redis.cliArgs, ...args], { encoding: "utf8" }).trim();
    try {
      redis("DEL", "system:pause_payouts");
      await proxy.cut();
      const sentAt = Date.now();
      emulator.sendCommand(GROUP, ONCALL, "/pause_payouts prod card fraud");
      const paused = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.text.includes("payouts"), 30_000);
      console.log(`[timing] database down: /pause_payouts → verified reply: ${Date.now() - sentAt} ms`);
      expect(paused.text).toMatch(/⏸ payouts PAUSED on prod \(verified[\s\S]*without a Confirm[\s\S]*local journal/);
      expect(redis("GET", "system:pause_payouts")).toBe("1");

      emulator.sendCommand(GROUP, ONCALL, "/deploy release/v2");
      const refused = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.text.includes("/deploy is refused"), 30_000);
      expect(refused.text).toBe("⛔ The database is unreachable: /deploy is refused until it is back (no audit, no action). /pause_payouts still works.");

      await proxy.up();
      const back = Date.now();
      journaled.start();
      const rows = async () =>
        (await direct.db.execute<{ outcome: string }>(sql`select outcome from audit_events where action = 'pause_payouts' order by id`)) as unknown as { outcome: string }[];
      await until("the journal replayed", async () => (await rows()).length >= 2, 20_000);
      console.log(`[timing] database back → pause rows replayed: ${Date.now() - back} ms`);
      await new Promise((r) => setTimeout(r, 1_200)); // two more replay rounds: nothing may repeat
      expect((await rows()).map((r) => r.outcome)).toEqual(["requested", "succeeded"]);
      expect(await new PostgresAuditLog(direct.db).verifyChain()).toMatchObject({ ok: true });
    } finally {
      journaled.stop();
      if (runner.isRunning()) await runner.stop();
      await emulator.stop();
      await proxy.cut();
      await viaProxy.close().catch(() => {});
      await direct.close();
      redis("DEL", "system:pause_payouts");
    }
  });
});

describe("a failed rollback", () => {
  it("leaves the target frozen, and the alert reaches the alert chat through the durable outbox after a 429", async () => {
    const emulator = await BotApiEmulator.start();
    const ALERTS = -1001000000099;
    const api = new Api(emulator.token, { apiRoot: emulator.apiRoot });
    const notifier = new TelegramNotifier(api, { perChatIntervalMs: 100 });
    const health = await startHealth({
      ...healthPorts(database.db),
      notifier,
      targets: {},
      alertChatIds: [ALERTS],
      log,
      tuning: { coalesceMs: 100, outboxPollMs: 500 },
    });
    // The rollback's build fails (the forward build is the first): a rollback that cannot finish.
    let builds = 0;
    const failingBuild = {
      exec: (argv: readonly string[], options: Parameters<typeof connections.shell.exec>[1]) =>
        argv.includes("build") && ++builds === 2
          ? Promise.resolve({ code: 1, stdout: "", stderr: "no space left on device\n", timedOut: false, truncated: false, durationMs: 1 })
          : connections.shell.exec(argv, options),
      execTrusted: (line: string, options: Parameters<typeof connections.shell.exec>[1]) => connections.shell.execTrusted(line, options),
      close: () => connections.shell.close(),
    };
    const ops = createOperations({
      repos,
      audit,
      reporter: new ChatReporter(notifier, systemClock, log, { notice: (chatIds, html) => health.notice(chatIds, html), alertChatIds: [ALERTS] }),
      targets: { prod: { shell: failingBuild, docker: connections.docker } },
      config,
      clock: systemClock,
      log,
    });
    started.push(ops);
    try {
      const planned = await chatOf(ops).deploy(alice, ["broken"]);
      if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
      const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
      if (pressed.status !== "confirmed") throw new Error("not confirmed");
      // The frozen message to the operation's chat is the first send after the press; the alert
      // chat's copy (from the outbox) is the second, and Telegram refuses it once: 429, retry after 2 s.
      emulator.rateLimitOnCall("sendMessage", 2, 2);
      const final = await pressed.done;
      const endedAt = Date.now();
      expect(final.status).toBe("failed");
      expect(final.error).toMatch(/build/);
      expect(await repos.locks.get("prod")).toMatchObject({ kind: "freeze", reason: expect.stringContaining("failed at build") });

      const alert = await emulator.waitForMessage((m) => m.chatId === ALERTS && m.text.includes("prod is frozen"), 20_000);
      console.log(`[timing] failed rollback → alert in the alert chat (through a 429, retry_after 2 s): ${alert.sentAt.getTime() - endedAt} ms`);
      expect(alert.text).toMatch(/prod is frozen: rollback to \w{7} failed at build/);
      expect(emulator.calls.some((c) => c.method === "sendMessage" && c.fault && "status" in c.fault && c.fault.status === 429)).toBe(true);
      const inOpChat = await emulator.waitForMessage((m) => m.chatId === alice.chatId && m.text.includes("prod is frozen"), 10_000);
      expect(inOpChat.replyMarkup).toBeDefined();
      await new Promise((r) => setTimeout(r, 1_500)); // another outbox round: delivered once
      expect(emulator.messages.filter((m) => m.chatId === ALERTS && m.text.includes("prod is frozen"))).toHaveLength(1);
      const rows = (await database.db.execute<{ n: number }>(sql`select count(*)::int as n from alert_outbox where kind = 'notice' and delivered_at is not null`)) as unknown as { n: number }[];
      expect(rows[0]!.n).toBe(1);
    } finally {
      await health.stop();
      await emulator.stop();
      await repos.locks.get("prod").then((l) => (l?.kind === "freeze" ? repos.locks.releaseFreeze("prod") : false));
    }
  });
});
