import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Api, Bot } from "grammy";
import { afterAll, beforeAll, beforeEach, inject } from "vitest";
import { createAlertsFeature } from "../../src/bot/handlers/alerts.js";
import { createMutesFeature } from "../../src/bot/handlers/mutes.js";
import type { BotContext } from "../../src/bot/context.js";
import { fileSchema } from "../../src/config/file.js";
import { alertRenderer } from "../../src/bot/alerts/render.js";
import { createHealthStores, HealthReaders } from "../../src/infra/db/repos/health-readers.js";
import type { Db } from "../../src/infra/db/client.js";
import { startHealth, type HealthHandle, type HealthTuning } from "../../src/health/index.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createLogger } from "../../src/infra/logger.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { BotApiEmulator, type BotMessage } from "../emulator/bot-api-emulator.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "./db.js";

/**
 * The harness of the health integration tests: the sandbox VPS (dockerd + compose app over pinned
 * SSH), a real Postgres, and the Bot API emulator receiving what the Notifier sends. No bot
 * process: alerts go out through TelegramNotifier over grammY's Api; commands and button presses
 * go through a grammY Bot carrying only the alerts and mutes features. The exported `let`s are
 * live bindings, set by the hooks `useHealthHarness` registers.
 */

export const run = promisify(execFile);
export const CHAT = -1001234;
export const ALICE = { id: 7001, username: "alice" };
export const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

export let sandbox: Sandbox;
export let database: DatabaseHandle;
export let telegram: BotApiEmulator;
export let conn: TargetConnections;
export let health: HealthHandle | null = null;
export let bot: Bot<BotContext>;
export let audit: PostgresAuditLog;

export const HTTP = { intervalSeconds: 1, failuresBeforeAlert: 2, successesBeforeRecovery: 2 };

export function targetConfig(healthOverrides: Record<string, unknown> = {}) {
  const parsed = fileSchema.parse({
    targets: {
      prod: {
        host: `ssh://${sandbox.ssh.username}@127.0.0.1:${sandbox.ssh.port}`,
        ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath },
        appDir: sandbox.appDir,
        dockerSocket: sandbox.dockerSocket,
        compose: { command: "docker-compose", project: sandbox.composeProject },
        // A configured service: the HTTP check of the same name joins web's incident.
        services: { web: { min: 1, max: 3 } },
        health: {
          http: [{ name: "web", url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", timeoutSeconds: 2, ...HTTP }],
          reachabilityIntervalSeconds: 30,
          // The tests kill web several times within minutes; that is not the loop under test here.
          restartLoopCount: 20,
          // The tests above kill web more than 4 times an hour; the flapping test restarts with 4.
          flappingOpensPerHour: 100,
          ...healthOverrides,
        },
      },
    },
  }).targets.prod;
  if (!parsed) throw new Error("no target");
  return parsed;
}

export async function startMonitoring(tuning: HealthTuning = {}, healthOverrides: Record<string, unknown> = {}): Promise<HealthHandle> {
  const api = new Api(telegram.token, { apiRoot: telegram.apiRoot });
  const notifier = new TelegramNotifier(api, { log, perChatIntervalMs: 300 });
  health = await startHealth({
    ...healthPorts(database.db),
    notifier,
    targets: { prod: { shell: conn.shell, docker: conn.docker, project: conn.project, services: ["web"], config: targetConfig(healthOverrides).health } },
    alertChatIds: [CHAT],
    log,
    tuning: { coalesceMs: 400, dockerSettleMs: 300, dockerRecheckMs: 3_000, remindEveryMs: null, tickMs: 200, outboxPollMs: 1_000, flappingQuietMs: 4_000, ...tuning },
  });
  return health;
}

/** What app.ts hands health/ for one database. */
export function healthPorts(db: Db) {
  const readers = new HealthReaders(db);
  return { stores: createHealthStores(db), backups: readers, payouts: readers, render: alertRenderer };
}

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { env: { ...process.env, ...sandbox.env }, timeout: 60_000 });
  return stdout.trim();
}
export async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run("docker-compose", args, { cwd: sandbox.appDir, env: { ...process.env, ...sandbox.env }, timeout: 120_000 });
  return stdout.trim();
}
export const webId = () => compose("ps", "-q", "web");

/** Messages the emulator received after `mark` (an index into telegram.messages) matching `p`. */
export function sentSince(mark: number, p: (m: BotMessage) => boolean = () => true): BotMessage[] {
  return telegram.messages.slice(mark).filter((m) => m.chatId === CHAT && p(m.history[0] ? { ...m, text: m.history[0].text } : m));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Everything quiet: no open incident, web healthy, and a moment for stragglers. */
export async function settled(): Promise<void> {
  await waitUntil("web healthy", async () => (await docker("inspect", "-f", "{{.State.Health.Status}}", await webId())) === "healthy" || undefined, 30_000);
  await waitUntil("no open incidents", () => (health?.alerts.openIncidents().length === 0 ? true : undefined), 30_000);
  await sleep(800);
}

/** Messages before the current test's start are never matched (waits consume, but not every test waits on all it caused). */
export let testMark = 0;

export function next(p: (m: BotMessage) => boolean, timeoutMs?: number): Promise<BotMessage> {
  return telegram.waitForMessage((m) => m.chatId === CHAT && m.index >= testMark && p(m), timeoutMs);
}

/** The sandbox sshd's listening process (found by its port). */
export async function sshdPid(): Promise<number> {
  const { stdout } = await run("ss", ["-ltnpH", `sport = :${sandbox.ssh.port}`]);
  const pid = Number(/pid=(\d+)/.exec(stdout)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no sshd listening on ${sandbox.ssh.port}: ${stdout}`);
  return pid;
}

export async function childPids(pid: number): Promise<number[]> {
  const { stdout } = await run("pgrep", ["-P", String(pid)]).catch(() => ({ stdout: "" }));
  return stdout.split("\n").filter(Boolean).map(Number);
}

/** Sends a command as ALICE and returns the bot's reply. */
export async function say(text: string): Promise<BotMessage> {
  const mark = telegram.messages.length;
  await bot.handleUpdate(telegram.sendCommand({ id: CHAT, type: "supergroup" }, ALICE, text));
  return waitUntil(`a reply to ${text}`, () => telegram.messages.slice(mark).find((m) => m.chatId === CHAT && /^(🔕|🔔|⛔|Nothing)/.test(m.text)), 5_000);
}

/**
 * "Nothing more arrives" without sleeping on it: kill worker and wait for ITS alert and recovery.
 * The outbox delivers a chat's messages in order, so anything queued before the marker (the
 * alert we must not see) would have arrived before it.
 */
export async function marker(): Promise<void> {
  const mark = telegram.messages.length;
  const [worker] = (await compose("ps", "-q", "worker")).split("\n");
  await docker("kill", worker!);
  await waitUntil("the marker alert", () => sentSince(mark, (m) => /🔴 prod: worker exited/.test(m.text))[0], 10_000);
  await compose("up", "-d", "worker");
  await waitUntil("the marker recovery", () => sentSince(mark, (m) => /🟢 prod: worker recovered/.test(m.text))[0], 20_000);
}

export async function press(message: BotMessage, label: string) {
  const button = message.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
  if (!button || !("callback_data" in button)) throw new Error(`no ${label} button on message ${message.messageId}`);
  const update = telegram.pressButton({ id: CHAT, type: "supergroup" }, ALICE, message.messageId, button.callback_data);
  await bot.handleUpdate(update);
  return telegram.waitForCallbackAnswer(update.callback_query?.id);
}

/** The feature is registered once; it talks to whichever health instance is current (restarts). */
export function proxyAlerts(): HealthHandle["alerts"] {
  const current = () => {
    if (!health) throw new Error("health not running");
    return health.alerts;
  };
  return {
    openIncidents: () => current().openIncidents(),
    ack: (...a) => current().ack(...a),
    mute: (...a) => current().mute(...a),
    incidentsFor: (...a) => current().incidentsFor(...a),
    activeMutes: () => current().activeMutes(),
    scopesFor: (w) => current().scopesFor(w),
    knownNames: () => current().knownNames(),
    muteScopes: (...a) => current().muteScopes(...a),
    unmuteScopes: (s) => current().unmuteScopes(s),
  };
}

/** Registers the suite's hooks: the sandbox, a database, the emulator, monitoring and the bot; cleanup after. */
export function useHealthHarness(databaseName: string): void {
  beforeAll(async () => {
    [sandbox, telegram] = await Promise.all([startSandbox({ postgresUrl: inject("postgresUrl") }), BotApiEmulator.start()]);
    database = await openDatabase({ url: createTestDatabase(databaseName), dataDir: "/unused" });
    await migrate(database);
    audit = new PostgresAuditLog(database.db);
    conn = createTargetConnections("prod", targetConfig(), log);
    await startMonitoring();
    bot = new Bot<BotContext>(telegram.token, { client: { apiRoot: telegram.apiRoot } });
    bot.use((ctx, next) => {
      ctx.actor = { chatId: ctx.chat?.id ?? 0, userId: ctx.from?.id ?? 0, username: ctx.from?.username ?? null };
      ctx.log = log;
      return next();
    });
    const feature = createAlertsFeature({ alerts: { ...proxyAlerts() }, audit });
    feature.register(bot as never);
    createMutesFeature({ alerts: proxyAlerts(), audit }).register(bot as never);
    await bot.init();
    await settled();
  });
  beforeEach(() => {
    testMark = telegram?.messages.length ?? 0;
  });
  afterAll(async () => {
    await health?.stop();
    await conn?.close();
    await database?.close();
    await telegram?.stop();
    await sandbox?.stop();
  });
}
