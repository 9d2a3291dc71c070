/**
 * Guarded operations against the real thing: a Postgres database for the bot, and the sandbox VPS
 * (sshd with a pinned key, dockerd running the compose app from a git checkout, the app's Postgres,
 * Redis). Goes through the OperationsService with a recording Notifier; the bot process itself is
 * covered by the e2e tests through the emulator.
 *
 * One sandbox for the whole file; tests run in order and each leaves the target as the next expects.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
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
import { containersProbe } from "../../src/operations/health-gate.js";
import { systemClock, type Clock, type ExecOptions, type ExecResult, type RemoteShell } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { INJECTION_PAYLOADS, MARKER } from "../support/injection-corpus.js";
import { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";
import { run, type RunnerHandle } from "@grammyjs/runner";
import { Api } from "grammy";
import { createBot } from "../../src/bot/bot.js";
import { createOperationsFeature } from "../../src/bot/handlers/operations.js";
import { createStatusFeature } from "../../src/bot/handlers/status.js";
import { CONFIRM_PREFIX } from "../../src/bot/operations/callback-data.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { ProcessedUpdates } from "../../src/infra/db/processed-updates.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { BotApiEmulator } from "../emulator/bot-api-emulator.js";

const log = createLogger({ level: "silent" });
let sandbox: Sandbox;
let database: DatabaseHandle;
let repos: OperationRepositories;
let audit: PostgresAuditLog;
let connections: TargetConnections;
let shell: RecordingShell;
let config: OpsFile;
const running: Operations[] = [];

/** The real shell, counting what it is asked to run (to prove "nothing ran"). */
class RecordingShell implements RemoteShell {
  calls: string[] = [];
  constructor(private readonly inner: RemoteShell) {}
  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    this.calls.push(argv.join(" "));
    return this.inner.exec(argv, options);
  }
  execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    this.calls.push(`TRUSTED ${line}`);
    return this.inner.execTrusted(line, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A clock that can be moved forward (expiry) while sleeps stay real. */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

function buildConfig(overrides: Record<string, unknown> = {}): OpsFile {
  const redis = `redis-cli ${sandbox.redis.cliArgs.join(" ")}`;
  return fileSchema.parse({
    targets: {
      prod: {
        host: `ssh://${sandbox.ssh.username}@${sandbox.ssh.host}:${sandbox.ssh.port}`,
        ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath, connectTimeoutSeconds: 5 },
        appDir: sandbox.appDir,
        dockerSocket: sandbox.dockerSocket,
        compose: { command: sandbox.composeCommand, project: sandbox.composeProject },
        services: { worker: { min: 1, max: 3 } },
        deploy: {
          healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 8, intervalSeconds: 0.5 },
          autoRollback: true,
        },
        backup: { command: `${sandbox.pgBinDir}/pg_dump -Fc ${sandbox.appPostgresUrl}`, dir: sandbox.backupDir, keep: 1, format: "custom" },
        payouts: {
          pause: `${redis} SET system:pause_payouts 1`,
          resume: `${redis} DEL system:pause_payouts`,
          status: `${redis} GET system:pause_payouts`,
        },
      },
    },
    confirmTimeoutSeconds: 60,
    ...overrides,
  });
}

function makeOps(options: { config?: OpsFile; clock?: Clock; notifier?: RecordingNotifier } = {}) {
  const notifier = options.notifier ?? new RecordingNotifier();
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, options.clock ?? systemClock, log),
    targets: { prod: { shell, docker: connections.docker } },
    config: options.config ?? config,
    clock: options.clock ?? systemClock,
    log,
  });
  running.push(ops);
  return { ops, notifier };
}

async function version(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${sandbox.webPort}/version`);
  return (await response.text()).trim();
}

function head(): string {
  return execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
}

async function runningReplicas(service: string): Promise<number> {
  const list = await connections.docker.listContainers(sandbox.composeProject);
  return list.filter((c) => c.service === service && c.state === "running").length;
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  database = await openDatabase({ url: createTestDatabase("ops"), dataDir: sandbox.dir });
  await migrate(database);
  repos = createOperationRepositories(database.db);
  audit = new PostgresAuditLog(database.db);
  config = buildConfig();
  connections = createTargetConnections("prod", config.targets.prod!, log);
  shell = new RecordingShell(connections.shell);
});

afterAll(async () => {
  for (const ops of running) await ops.stop({ graceMs: 1_000 });
  await connections?.close();
  await database?.close();
  await sandbox?.stop();
});

describe("deploy, against the sandbox VPS", () => {
  it("v1 → v2: a double press runs once, web serves v2, the deployment row and the audit trail are written", async () => {
    const { ops, notifier } = makeOps();
    expect(await version()).toBe("v1");
    const planned = await chatOf(ops).deploy(alice, ["release/v2"]);
    expect(planned.status).toBe("planned");
    if (planned.status !== "planned") return;
    const plan = notifier.messages[0]!.texts[0]!;
    expect(plan).toContain(sandbox.versions.v1.slice(0, 7));
    expect(plan).toContain(sandbox.versions.v2.slice(0, 7));
    expect(plan).toContain("v2: second release");

    const started = Date.now();
    const presses = await Promise.all([ops.service.confirm(bob, planned.operationId, planned.message), ops.service.confirm(bob, planned.operationId, planned.message)]);
    expect(presses.map((p) => p.status).sort()).toEqual(["confirmed", "refused"]);
    const confirmed = presses.find((p) => p.status === "confirmed");
    if (confirmed?.status !== "confirmed") return;
    const final = await confirmed.done;
    const tookMs = Date.now() - started;
    console.log(`[timing] deploy v1→v2, confirm → ✅: ${tookMs} ms`);

    expect(final.status).toBe("succeeded");
    expect(await version()).toBe("v2");
    expect(head()).toBe(sandbox.versions.v2);
    const deployments = await repos.deployments.recent("prod", 10);
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({ kind: "deploy", ref: "release/v2", sha: sandbox.versions.v2, previousSha: sandbox.versions.v1, status: "succeeded", requestedByName: "alice" });
    expect(deployments[0]!.finishedAt).not.toBeNull();
    const text = notifier.last(planned.message!.messageId);
    expect(text).toMatch(/✓ fetched · ✓ checkout \w{7} · ✓ built · ✓ up · ✓ healthy in [\d.]+ s/);
    expect(text).toMatch(/✅ deployed .* in /);

    const events = (await audit.recent(50)).filter((e) => e.operationId === planned.operationId).reverse();
    expect(events.map((e) => e.outcome).filter((o) => o !== "info")).toEqual(["requested", "confirmed", "started", "succeeded"]);
    expect(events.filter((e) => e.action === "deploy.step")).toHaveLength(5);
    expect(await repos.locks.get("prod")).toBeNull();
  });

  it("two chats deploy at once: one runs, the other is told the target is busy; the broken version rolls back by itself", async () => {
    const { ops, notifier } = makeOps();
    const carol = { chatId: -200, userId: 3, username: "carol" };
    // Both ask for the same broken version, so whichever press wins, the outcome is the same.
    const [first, second] = await Promise.all([chatOf(ops).deploy(alice, ["broken"]), chatOf(ops).deploy(carol, ["broken"])]);
    if (first.status !== "planned" || second.status !== "planned") throw new Error(`not planned: ${JSON.stringify([first, second])}`);
    const [a, b] = await Promise.all([chatOf(ops).press(bob, `${CONFIRM_PREFIX}${first.operationId}`, first.message), chatOf(ops).press(carol, `${CONFIRM_PREFIX}${second.operationId}`, second.message)]);
    const [winner, loser] = a.status === "confirmed" ? [a, b] : [b, a];
    expect(winner.status).toBe("confirmed");
    expect(loser.status).toBe("refused");
    if (loser.status === "refused") expect(loser.text).toMatch(/prod is busy: @(alice|carol) is running deploy broken since/);
    // While it runs, a new request is refused up front, naming the holder.
    const third = await chatOf(ops).deploy(bob, ["main"]);
    expect(third.status).toBe("refused");
    if (third.status === "refused") expect(third.reason).toMatch(/busy: @(alice|carol) is running deploy broken since \d\d:\d\d:\d\d UTC/);
    if (winner.status !== "confirmed") return;
    const final = await winner.done;
    expect(final.status).toBe("rolled_back");
    expect(await version()).toBe("v2");
    expect(head()).toBe(sandbox.versions.v2);
    const won = winner.operationId === first.operationId ? first : second;
    const text = notifier.last(won.message!.messageId);
    expect(text).toMatch(/↩ rolled back to <code>\w{7}<\/code>/);
    expect(text).toContain("<pre>");
    expect(notifier.documents.some((d) => /attempt \d+: HTTP 404/.test(d.content))).toBe(true);
    expect((await repos.deployments.latest("prod"))?.status).toBe("rolled_back");
    expect(await repos.locks.get("prod")).toBeNull();
    // The other plan is still valid; withdraw it.
    const lost = winner.operationId === first.operationId ? second : first;
    expect((await ops.service.cancel(alice, lost.operationId, lost.message)).status).toBe("cancelled");
  });

  it("an unknown ref is a clear error and no confirmation is offered", async () => {
    const { ops, notifier } = makeOps();
    const result = await chatOf(ops).deploy(alice, ["release/v9"]);
    expect(result).toMatchObject({ status: "refused", reason: expect.stringContaining('ref "release/v9" was not found on origin') });
    expect(notifier.messages).toHaveLength(0);
  });

  it("/rollback with no argument returns to the commit before the last successful deployment", async () => {
    const { ops, notifier } = makeOps();
    const last = await repos.deployments.lastSucceeded("prod");
    const planned = await chatOf(ops).rollback(alice, []);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    expect(notifier.messages[0]!.texts[0]).toContain("The database is NOT restored");
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
    expect((await pressed.done).status).toBe("succeeded");
    expect(head()).toBe(last!.previousSha);
    expect(await version()).toBe(last!.previousSha === sandbox.versions.v1 ? "v1" : "v2");
    expect(await repos.deployments.latest("prod")).toMatchObject({ kind: "rollback", sha: last!.previousSha, previousSha: last!.sha, status: "succeeded" });
  });
});

describe("scale, backup, payouts, against the sandbox VPS", () => {
  it("scales worker 1 → 3 → 1, verified through Docker; over max is refused and nothing runs", async () => {
    const { ops } = makeOps();
    expect(await runningReplicas("worker")).toBe(1);
    for (const n of [3, 1]) {
      const planned = await chatOf(ops).scale(alice, ["worker", String(n)]);
      if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
      const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
      if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
      expect((await pressed.done).status).toBe("succeeded");
      expect(await runningReplicas("worker")).toBe(n);
    }
    const before = shell.calls.length;
    const over = await chatOf(ops).scale(alice, ["worker", "4"]);
    expect(over).toMatchObject({ status: "refused", reason: expect.stringContaining("allowed 1 to 3") });
    expect(shell.calls.length).toBe(before);
    expect(await runningReplicas("worker")).toBe(1);
  });

  it("backs up on the target: the file is there, pg_restore --list passes, pruning keeps `keep`", async () => {
    const { ops } = makeOps();
    const paths: string[] = [];
    for (let i = 0; i < 2; i++) {
      const started = await chatOf(ops).backup(alice, []);
      if (started.status !== "started") throw new Error(JSON.stringify(started));
      const final = await started.done;
      expect(final.status).toBe("succeeded");
      paths.push((final.result as { path: string }).path);
      // File names carry the second; make the next one different.
      if (i === 0) await new Promise((r) => setTimeout(r, 1_100));
    }
    for (const path of paths) expect(path).toMatch(new RegExp(`^${sandbox.backupDir}/prod-\\d{8}T\\d{6}Z\\.dump$`));
    const files = readdirSync(sandbox.backupDir).sort();
    expect(files).toEqual(paths.slice(1).map((p) => p.slice(sandbox.backupDir.length + 1)).sort());
    const newest = paths[1]!;
    expect(statSync(newest).size).toBeGreaterThan(1000);
    const toc = execFileSync(`${sandbox.pgBinDir}/pg_restore`, ["--list", newest], { encoding: "utf8" });
    expect(toc).toMatch(/TABLE DATA public payouts/);
    const rows = await repos.backups.recent("prod", 10);
    expect(rows.map((r) => r.status)).toEqual(["succeeded", "pruned"]);
    expect(existsSync(paths[0]!)).toBe(false);
    expect(rows[0]).toMatchObject({ path: newest, sizeBytes: statSync(newest).size });
    const list = await chatOf(ops).backups(alice, []);
    expect(list.status === "ok" && list.text).toContain(newest);
  });

  it("pause and resume payouts flip the real Redis key; /status shows who paused and why", async () => {
    const { ops } = makeOps();
    const redisGet = () => execFileSync("redis-cli", [...sandbox.redis.cliArgs, "GET", "system:pause_payouts"], { encoding: "utf8" }).trim();
    expect(redisGet()).toBe("");
    const pause = await chatOf(ops).pausePayouts(alice, ["chargeback", "spike"]);
    if (pause.status !== "planned") throw new Error(JSON.stringify(pause));
    const p = await ops.service.confirm(alice, pause.operationId, pause.message);
    if (p.status !== "confirmed") throw new Error(JSON.stringify(p));
    expect((await p.done).status).toBe("succeeded");
    expect(redisGet()).toBe("1");
    const status = await chatOf(ops).statusOf(bob, []);
    expect(status.status === "ok" && status.html).toMatch(/payouts PAUSED by @alice .*ago: chargeback spike/);

    const resume = await chatOf(ops).resumePayouts(bob, []);
    if (resume.status !== "planned") throw new Error(JSON.stringify(resume));
    const r = await ops.service.confirm(bob, resume.operationId, resume.message);
    if (r.status !== "confirmed") throw new Error(JSON.stringify(r));
    expect((await r.done).status).toBe("succeeded");
    expect(redisGet()).toBe("");
    expect(await repos.payouts.get("prod")).toMatchObject({ paused: false });
  });

  it("/status shows the live commit, replicas and health, last deploy, lock and backup; /logs tails a service", async () => {
    const { ops } = makeOps();
    const started = Date.now();
    const status = await chatOf(ops).statusOf(alice, ["prod"]);
    expect(Date.now() - started).toBeLessThan(5_000);
    if (status.status !== "ok") throw new Error(JSON.stringify(status));
    expect(status.html).toContain(`<code>${head().slice(0, 7)}</code>`);
    expect(status.html).toMatch(/✓ web 1\/1 healthy · ✓ worker 1\/1/);
    expect(status.html).toMatch(/deploy: ✅ #\d+ rollback/);
    expect(status.html).toContain("lock: free");
    expect(status.html).toMatch(/backup: .*ago · [\d.]+ KB/);
    const logs = await chatOf(ops).logs(alice, ["web", "5"]);
    expect(logs.status).toBe("ok");
    expect(await chatOf(ops).logs(alice, ["nope"])).toMatchObject({ status: "refused", reason: expect.stringContaining("web, worker") });
    // The gate used when no health URL is configured, on the real engine: web healthy, worker running.
    const probe = containersProbe(connections.docker, sandbox.composeProject);
    expect((await probe(2_000)).healthy).toBe(false); // the first look only settles
    expect(await probe(2_000)).toEqual({ healthy: true, detail: "web 1/1 · worker 1/1" });
  });
});

describe("approvals and recovery, against real Postgres", () => {
  it("expired, cancelled, and four eyes: nothing runs", async () => {
    const clock = new OffsetClock();
    const { ops, notifier } = makeOps({ clock, config: buildConfig({ fourEyes: true }) });
    const before = head();

    const expiring = await chatOf(ops).scale(alice, ["worker", "2"]);
    if (expiring.status !== "planned") throw new Error(JSON.stringify(expiring));
    clock.offsetMs = 61_000;
    expect(await ops.engine.expireDue()).toBe(1);
    expect(notifier.last(expiring.message!.messageId)).toContain("Expired");
    expect(await ops.service.confirm(bob, expiring.operationId, expiring.message)).toMatchObject({ status: "refused" });
    clock.offsetMs = 0;

    const cancelled = await chatOf(ops).scale(alice, ["worker", "2"]);
    if (cancelled.status !== "planned") throw new Error(JSON.stringify(cancelled));
    expect((await ops.service.cancel(bob, cancelled.operationId, cancelled.message)).status).toBe("cancelled");
    expect(await ops.service.confirm(bob, cancelled.operationId, cancelled.message)).toMatchObject({ status: "refused" });

    const own = await chatOf(ops).scale(alice, ["worker", "2"]);
    if (own.status !== "planned") throw new Error(JSON.stringify(own));
    expect(await ops.service.confirm(alice, own.operationId, own.message)).toMatchObject({ status: "refused", text: expect.stringContaining("Four eyes") });
    expect((await repos.operations.get(own.operationId))?.status).toBe("awaiting_confirmation");
    expect((await ops.service.cancel(bob, own.operationId, own.message)).status).toBe("cancelled");

    expect((await repos.operations.get(expiring.operationId))?.status).toBe("expired");
    expect(await runningReplicas("worker")).toBe(1);
    expect(head()).toBe(before);
    const outcomes = (await audit.recent(30)).map((e) => `${e.operationId}:${e.outcome}`);
    expect(outcomes).toContain(`${expiring.operationId}:expired`);
    expect(outcomes).toContain(`${cancelled.operationId}:cancelled`);
    expect(outcomes).toContain(`${own.operationId}:denied`);
  });

  it("/lock freezes mutating commands until /unlock, and says who froze it and why", async () => {
    const { ops } = makeOps();
    expect(await chatOf(ops).lock(alice, ["prod", "hand", "migration"])).toMatchObject({ status: "ok" });
    expect(await chatOf(ops).scale(bob, ["worker", "2"])).toMatchObject({ status: "refused", reason: expect.stringMatching(/prod is frozen by @alice since .*: hand migration/) });
    expect(await chatOf(ops).backup(bob, [])).toMatchObject({ status: "refused" });
    expect(await chatOf(ops).lock(bob, [])).toMatchObject({ status: "refused" });
    expect(await chatOf(ops).unlock(bob, [])).toMatchObject({ status: "ok", text: "🔓 prod is unlocked." });
    expect(await repos.locks.get("prod")).toBeNull();
  });

  it("restart recovery: a running deploy becomes interrupted, the chat is told what is live, the target stays frozen until /unlock", async () => {
    const id = "recoverytest0001";
    await repos.operations.insert({ id, kind: "deploy", target: "prod", status: "running", args: { ref: "main" }, chatId: -100, requestedBy: 1, requestedByName: "alice", createdAt: new Date() });
    await repos.deployments.insert({ operationId: id, target: "prod", kind: "deploy", ref: "main", sha: sandbox.versions.v1, previousSha: head(), status: "running", requestedBy: 1, requestedByName: "alice", startedAt: new Date() });
    await repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: id, holderUserId: 1, holderName: "alice", reason: "deploy main", since: new Date(), heartbeatAt: new Date() });
    const { ops, notifier } = makeOps();
    expect(await chatOf(ops).scale(bob, ["worker", "2"])).toMatchObject({ status: "refused", reason: expect.stringContaining("busy") });
    const recovered = await ops.start();
    expect(recovered).toEqual([expect.objectContaining({ operationId: id, lock: "frozen", state: expect.objectContaining({ ok: true, headSha: head() }) })]);
    expect((await repos.operations.get(id))?.status).toBe("interrupted");
    expect((await repos.deployments.byOperation(id))?.status).toBe("interrupted");
    expect(await repos.locks.get("prod")).toMatchObject({ kind: "freeze" });
    expect(notifier.messages.at(-1)!.texts[0]).toMatch(/Interrupted[\s\S]*web 1\/1 · worker 1\/1[\s\S]*stays frozen/);
    expect(await chatOf(ops).unlock(bob, [])).toMatchObject({ status: "ok", text: "🔓 prod is unlocked." });
    expect(await repos.locks.get("prod")).toBeNull();
    const events = (await audit.recent(10)).filter((e) => e.operationId === id).map((e) => e.outcome);
    expect(events).toContain("interrupted");
  });

  it("injection corpus through deploy, scale and logs: every payload refused, no marker, nothing ran, nothing awaits confirmation", async () => {
    const { ops, notifier } = makeOps();
    const before = shell.calls.length;
    const awaitingBefore = (await repos.operations.listByStatus(["awaiting_confirmation"])).length;
    for (const { name, value } of INJECTION_PAYLOADS) {
      for (const attempt of [
        () => chatOf(ops).deploy(alice, [value]),
        () => chatOf(ops).scale(alice, [value, "2"]),
        () => chatOf(ops).scale(alice, ["worker", value]),
        () => chatOf(ops).logs(alice, [value]),
      ]) {
        const result = await attempt();
        expect(result.status, name).toBe("refused");
      }
    }
    // Only /logs lists containers (Docker API, no shell); no command reached the target's shell.
    expect(shell.calls.length).toBe(before);
    expect(notifier.messages).toHaveLength(0);
    expect((await repos.operations.listByStatus(["awaiting_confirmation"])).length).toBe(awaitingBefore);
    for (const dir of [sandbox.appDir, homedir(), process.cwd(), "/"]) expect(existsSync(join(dir, MARKER)), dir).toBe(false);
  });
});

describe("through grammY and the Bot API emulator (in-process bot, same sandbox)", () => {
  const GROUP = { id: -1001000000042, type: "supergroup" as const, title: "ops" };
  const ONCALL = { id: 7001, username: "oncall" };
  const SECOND = { id: 7002, username: "second" };
  const STRANGER = { id: 666, username: "stranger" };
  let emulator: BotApiEmulator;
  let runner: RunnerHandle;
  let ops: Operations;

  beforeAll(async () => {
    emulator = await BotApiEmulator.start();
    const api = new Api(emulator.token, { apiRoot: emulator.apiRoot });
    const notifier = new TelegramNotifier(api, { perChatIntervalMs: 200 });
    ops = createOperations({ repos, audit, reporter: new ChatReporter(notifier, systemClock, log), targets: { prod: { shell, docker: connections.docker } }, config, clock: systemClock, log });
    running.push(ops);
    const bot = createBot({
      token: emulator.token,
      apiRoot: emulator.apiRoot,
      rules: { adminChatIds: [GROUP.id], adminUserIds: [ONCALL.id, SECOND.id] },
      audit,
      processedUpdates: new ProcessedUpdates(database.db),
      features: [createOperationsFeature({ chat: chatOf(ops) }), createStatusFeature({ chat: chatOf(ops) })],
      log,
      configureApi: () => {},
      botInfo: await api.getMe(),
    });
    runner = run(bot);
  });

  afterAll(async () => {
    if (runner?.isRunning()) await runner.stop();
    await emulator?.stop();
  });

  it("/deploy → plan with buttons → a stranger's press is refused → Confirm → one message edited to ✅", async () => {
    emulator.sendCommand(GROUP, ONCALL, "/deploy v2.0.0");
    const plan = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.replyMarkup !== undefined, 30_000);
    expect(plan.text).toMatch(/Deploy v2\.0\.0 → prod/);
    const buttons = plan.replyMarkup!.inline_keyboard.flat() as { text: string; callback_data?: string }[];
    const confirm = buttons.find((b) => b.text.includes("Confirm"))!.callback_data!;

    const intruder = emulator.pressButton(GROUP, STRANGER, plan.messageId, confirm);
    expect((await emulator.waitForCallbackAnswer(intruder.callback_query!.id)).text ?? "").toMatch(/not allowed|^$/i);

    const first = emulator.pressButton(GROUP, SECOND, plan.messageId, confirm);
    const second = emulator.pressButton(GROUP, SECOND, plan.messageId, confirm);
    const answers = [await emulator.waitForCallbackAnswer(first.callback_query!.id), await emulator.waitForCallbackAnswer(second.callback_query!.id)];
    expect(answers.map((a) => a.text).sort()).toEqual([expect.stringMatching(/^Already confirmed|^Confirmed/), expect.stringMatching(/^Already confirmed|^Confirmed/)]);
    expect(answers.filter((a) => a.text?.startsWith("Confirmed"))).toHaveLength(1);

    const done = await emulator.waitForEdit((e) => e.messageId === plan.messageId && /✅|❌|↩/.test(e.text), 120_000);
    expect(done.text).toMatch(/✅ deployed \w{7} \(v2\.0\.0\) in/);
    expect(done.replyMarkup).toBeUndefined();
    expect(await version()).toBe("v2");
    // Measured, not asserted (a fixed window flakes on a loaded box; the unit tests pin the cause):
    // the final edit is no longer paced, so it follows the last step's audit row closely.
    const lastStep = (await audit.recent(50)).find((e) => e.action === "deploy.step" && (e.detail as { step?: { id?: string } } | null)?.step?.id === "health")!;
    const lagMs = done.at.getTime() - lastStep.createdAt.getTime();
    console.log(`[timing] last step's audit row → ✅ edit at the emulator: ${lagMs} ms`);
    // Progress edits of that one message stayed around one per second.
    const edits = emulator.edits.filter((e) => e.messageId === plan.messageId);
    const spanS = (edits.at(-1)!.at.getTime() - edits[0]!.at.getTime()) / 1000;
    expect(edits.length).toBeLessThanOrEqual(Math.ceil(spanS) + 3);
  });

  it("refusals are replied in chat; /status and /logs answer; long logs come as a file", async () => {
    emulator.sendCommand(GROUP, ONCALL, "/scale worker 9");
    const refused = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.text.startsWith("⛔"), 30_000);
    expect(refused.text).toContain("allowed 1 to 3");

    emulator.sendCommand(GROUP, ONCALL, "/status");
    const status = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.text.startsWith("prod"), 30_000);
    expect(status.text).toContain(sandbox.versions.v2.slice(0, 7));
    expect(status.text).toMatch(/web 1\/1/);

    emulator.sendCommand(GROUP, ONCALL, "/logs web 500 prod");
    const reply = await emulator.waitForMessage((m) => m.chatId === GROUP.id && m.text.startsWith("web on prod"), 30_000);
    expect(reply.kind === "document" || reply.text.length <= 4096).toBe(true);
  });
});
