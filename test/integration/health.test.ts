import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { Api, Bot } from "grammy";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
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
import { AlertOutboxRepo } from "../../src/infra/db/repos/alert-outbox.js";
import { auditEvents, backups, incidents, payoutsState } from "../../src/infra/db/schema/index.js";
import { createLogger } from "../../src/infra/logger.js";
import { TelegramNotifier } from "../../src/infra/telegram/notifier.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { BotApiEmulator, type BotMessage } from "../emulator/bot-api-emulator.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { freePort } from "../support/ports.js";

/**
 * Health alerts against the real thing: the sandbox VPS (dockerd + compose app over pinned SSH),
 * a real Postgres, and the Bot API emulator receiving what the Notifier sends. No bot process:
 * alerts go out through TelegramNotifier over grammY's Api; button presses go through a grammY
 * Bot carrying only the alerts feature.
 */

const run = promisify(execFile);
const CHAT = -1001234;
const ALICE = { id: 7001, username: "alice" };
const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

let sandbox: Sandbox;
let database: DatabaseHandle;
let telegram: BotApiEmulator;
let conn: TargetConnections;
let health: HealthHandle | null = null;
let bot: Bot<BotContext>;
let audit: PostgresAuditLog;

const HTTP = { intervalSeconds: 1, failuresBeforeAlert: 2, successesBeforeRecovery: 2 };

function targetConfig(healthOverrides: Record<string, unknown> = {}) {
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

async function startMonitoring(tuning: HealthTuning = {}, healthOverrides: Record<string, unknown> = {}): Promise<HealthHandle> {
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
function healthPorts(db: Db) {
  const readers = new HealthReaders(db);
  return { stores: createHealthStores(db), backups: readers, payouts: readers, render: alertRenderer };
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { env: { ...process.env, ...sandbox.env }, timeout: 60_000 });
  return stdout.trim();
}
async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run("docker-compose", args, { cwd: sandbox.appDir, env: { ...process.env, ...sandbox.env }, timeout: 120_000 });
  return stdout.trim();
}
const webId = () => compose("ps", "-q", "web");

/** Messages the emulator received after `mark` (an index into telegram.messages) matching `p`. */
function sentSince(mark: number, p: (m: BotMessage) => boolean = () => true): BotMessage[] {
  return telegram.messages.slice(mark).filter((m) => m.chatId === CHAT && p(m.history[0] ? { ...m, text: m.history[0].text } : m));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Everything quiet: no open incident, web healthy, and a moment for stragglers. */
async function settled(): Promise<void> {
  await waitUntil("web healthy", async () => (await docker("inspect", "-f", "{{.State.Health.Status}}", await webId())) === "healthy" || undefined, 30_000);
  await waitUntil("no open incidents", () => (health?.alerts.openIncidents().length === 0 ? true : undefined), 30_000);
  await sleep(800);
}

/** Messages before the current test's start are never matched (waits consume, but not every test waits on all it caused). */
let testMark = 0;
beforeEach(() => {
  testMark = telegram?.messages.length ?? 0;
});
function next(p: (m: BotMessage) => boolean, timeoutMs?: number): Promise<BotMessage> {
  return telegram.waitForMessage((m) => m.chatId === CHAT && m.index >= testMark && p(m), timeoutMs);
}

/** The sandbox sshd's listening process (found by its port). */
async function sshdPid(): Promise<number> {
  const { stdout } = await run("ss", ["-ltnpH", `sport = :${sandbox.ssh.port}`]);
  const pid = Number(/pid=(\d+)/.exec(stdout)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no sshd listening on ${sandbox.ssh.port}: ${stdout}`);
  return pid;
}

async function childPids(pid: number): Promise<number[]> {
  const { stdout } = await run("pgrep", ["-P", String(pid)]).catch(() => ({ stdout: "" }));
  return stdout.split("\n").filter(Boolean).map(Number);
}

/** Sends a command as ALICE and returns the bot's reply. */
async function say(text: string): Promise<BotMessage> {
  const mark = telegram.messages.length;
  await bot.handleUpdate(telegram.sendCommand({ id: CHAT, type: "supergroup" }, ALICE, text));
  return waitUntil(`a reply to ${text}`, () => telegram.messages.slice(mark).find((m) => m.chatId === CHAT && /^(🔕|🔔|⛔|Nothing)/.test(m.text)), 5_000);
}

/**
 * "Nothing more arrives" without sleeping on it: kill worker and wait for ITS alert and recovery.
 * The outbox delivers a chat's messages in order, so anything queued before the marker (the
 * alert we must not see) would have arrived before it.
 */
async function marker(): Promise<void> {
  const mark = telegram.messages.length;
  const [worker] = (await compose("ps", "-q", "worker")).split("\n");
  await docker("kill", worker!);
  await waitUntil("the marker alert", () => sentSince(mark, (m) => /🔴 prod: worker exited/.test(m.text))[0], 10_000);
  await compose("up", "-d", "worker");
  await waitUntil("the marker recovery", () => sentSince(mark, (m) => /🟢 prod: worker recovered/.test(m.text))[0], 20_000);
}

async function press(message: BotMessage, label: string) {
  const button = message.replyMarkup?.inline_keyboard.flat().find((b) => b.text === label);
  if (!button || !("callback_data" in button)) throw new Error(`no ${label} button on message ${message.messageId}`);
  const update = telegram.pressButton({ id: CHAT, type: "supergroup" }, ALICE, message.messageId, button.callback_data);
  await bot.handleUpdate(update);
  return telegram.waitForCallbackAnswer(update.callback_query?.id);
}

beforeAll(async () => {
  [sandbox, telegram] = await Promise.all([startSandbox({ postgresUrl: inject("postgresUrl") }), BotApiEmulator.start()]);
  database = await openDatabase({ url: createTestDatabase("health"), dataDir: "/unused" });
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

/** The feature is registered once; it talks to whichever health instance is current (restarts). */
function proxyAlerts(): HealthHandle["alerts"] {
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

afterAll(async () => {
  await health?.stop();
  await conn?.close();
  await database?.close();
  await telegram?.stop();
  await sandbox?.stop();
});

describe("health alerts (sandbox + Postgres + emulator)", () => {
  it("docker kill web with both monitors: one message naming both signals, one recovery with the outage duration", async () => {
    const mark = telegram.messages.length;
    const id = await webId();
    const killedAt = Date.now();
    await docker("kill", id);
    const alert = await next((m) => /🔴 prod: web exited \(code 137\)/.test(m.text), 2_000);
    expect(alert.sentAt.getTime() - killedAt).toBeLessThan(2_000);
    expect(alert.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(["Ack", "Mute 1h", "Mute 24h"]);
    // The HTTP check fails twice, one second apart: it joins the same message, edited in place.
    await waitUntil("both signals on the alert", () => (/web — 2 of 2 signals failing/.test(alert.text) ? true : undefined), 10_000);
    expect(alert.text).toMatch(/• web exited \(code 137\)\n• HTTP check web: /);

    await compose("up", "-d");
    const recovery = await next((m) => /^🟢 prod: web recovered after \d/.test(m.text), 20_000);
    const seconds = Number(/after ([\d.]+) s/.exec(recovery.text)?.[1] ?? NaN);
    expect(seconds).toBeGreaterThanOrEqual(2);
    await waitUntil("the alert edited to resolved", () => (/resolved after/.test(alert.text) ? true : undefined), 5_000);
    expect(alert.replyMarkup?.inline_keyboard ?? []).toEqual([]);
    await marker();
    // One alert, edited, never re-sent; one recovery; nothing about web's HTTP check on its own.
    expect(sentSince(mark, (m) => /prod: web/.test(m.text) && !/^🟢/.test(m.text))).toHaveLength(1);
    expect(sentSince(mark, (m) => /^🟢 prod: web recovered/.test(m.text))).toHaveLength(1);
    expect(sentSince(mark, (m) => /HTTP check web/.test(m.text) && m.messageId !== alert.messageId)).toEqual([]);
    await settled();
  });

  it("[Mute 1h], then kill web again: nothing posted; /unmute web, then kill again: an alert", async () => {
    await docker("kill", await webId());
    const alert = await next((m) => /🔴 prod: web exited/.test(m.text), 3_000);
    expect((await press(alert, "Mute 1h")).text).toBe("Muted for 1 h.");
    await compose("up", "-d");
    await settled();

    const afterMute = telegram.messages.length;
    await docker("kill", await webId());
    // Both signals recorded under the mute (the container at once, the HTTP check after two failures).
    await waitUntil("web's muted incident with both signals", () =>
      health!.alerts.openIncidents().find((i) => i.key.subject === "web" && i.state === "muted" && i.signals.length === 2),
    );
    await compose("up", "-d");
    await settled();
    await marker();
    expect(sentSince(afterMute, (m) => /prod: web/.test(m.text))).toEqual([]);
    
    expect((await say("/unmute web")).text).toBe("🔔 Unmuted web on prod. Alerts about it are sent again.");
    const [unmuteAudit] = await database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.unmute"));
    expect(unmuteAudit).toMatchObject({ userId: ALICE.id, outcome: "confirmed", args: { name: "web" } });
    await docker("kill", await webId());
    await next((m) => /🔴 prod: web exited/.test(m.text) && m.index >= afterMute, 3_000);
    await compose("up", "-d");
    await settled();
  });

  it("/mute web 30m reason is listed by /alerts with who, until when and why", async () => {
    const muted = await say("/mute web 30m load test");
    expect(muted.text).toMatch(/^🔕 Muted web on prod for 30 min \(until .* UTC\): load test\.$/);
    const mark = telegram.messages.length;
    await bot.handleUpdate(telegram.sendCommand({ id: CHAT, type: "supergroup" }, ALICE, "/alerts"));
    const list = await waitUntil("the /alerts reply", () => telegram.messages.slice(mark).find((m) => m.chatId === CHAT && /mute/.test(m.text)), 5_000);
    expect(list.text).toMatch(/🔕 web on prod until .* UTC, by @alice: load test/);
    await say("/unmute web");
  });

  it("five kill/start cycles of web within a minute: one flapping incident, not a stream of pairs", async () => {
    await health!.stop();
    await startMonitoring({}, { flappingOpensPerHour: 4 });
    const mark = telegram.messages.length;
    for (let i = 0; i < 5; i++) {
      await docker("kill", await webId());
      await waitUntil("web down seen", () => health!.alerts.openIncidents().find((x) => x.key.subject === "web"), 5_000);
      await compose("up", "-d");
      if (i < 4) await waitUntil("web recovered", () => (health!.alerts.openIncidents().some((x) => x.key.subject === "web") ? undefined : true), 20_000);
    }
    const flapping = await next((m) => m.index >= mark && /web is flapping \(5 outages within 1 h\)/.test(m.text), 10_000);
    // The fifth outage's recovery does not resolve it: it resolves after a quiet spell (4 s here).
    await next((m) => m.index > flapping.index && /^🟢 prod: web recovered/.test(m.text), 30_000);
    expect(sentSince(mark, (m) => /flapping/.test(m.text))).toHaveLength(1);
    expect(sentSince(mark, (m) => /^🟢 prod: web recovered/.test(m.text))).toHaveLength(5);
    await settled();
    await health!.stop();
    await startMonitoring();
  });

  it("health file removed: the HTTP alert after failuresBeforeAlert × interval; recovery once restored", async () => {
    const id = await webId();
    const removedAt = Date.now();
    await docker("exec", id, "rm", "/www/health");
    const alert = await next((m) => /HTTP check web: status 404 \(expected 200\)/.test(m.text), 10_000);
    const after = alert.sentAt.getTime() - removedAt;
    // Two failed checks one second apart, then the coalescing window.
    expect(after).toBeGreaterThanOrEqual((HTTP.failuresBeforeAlert - 1) * HTTP.intervalSeconds * 1000);
    expect(after).toBeLessThan(6_000);
    await docker("exec", id, "sh", "-c", "echo ok > /www/health");
    // The check names the service web: its recovery is web's.
    await next((m) => /🟢 prod: web recovered after/.test(m.text), 10_000);
    await settled();
  });

  it("a new signal joining an acknowledged incident posts it once more", async () => {
    const id = await webId();
    await docker("exec", id, "rm", "/www/health");
    const alert = await next((m) => /🔴 prod: HTTP check web: status 404/.test(m.text), 10_000);
    expect((await press(alert, "Ack")).text).toMatch(/^Acknowledged/);
    await docker("kill", id); // the container signal joins the acked incident
    const again = await next((m) => m.messageId !== alert.messageId && /🔴 prod: web — 2 of 2 signals failing/.test(m.text), 5_000);
    expect(again.text).toMatch(/acked by @alice/);
    await compose("up", "-d");
    await docker("exec", await webId(), "sh", "-c", "echo ok > /www/health");
    await next((m) => /^🟢 prod: web recovered/.test(m.text), 30_000);
    await marker();
    expect(sentSince(testMark, (m) => /^🔴 prod: (web|HTTP check web)/.test(m.text)).map((m) => m.messageId)).toEqual([alert.messageId, again.messageId]);
    await settled();
  });

  it("a burst: 20 worker containers killed at once make at most 2 messages", async () => {
    await compose("up", "-d", "--scale", "worker=20");
    const ids = (await compose("ps", "-q", "worker")).split("\n").filter(Boolean);
    expect(ids).toHaveLength(20);
    await sleep(1_500); // let the monitor's next listing see them running
    const mark = telegram.messages.length;
    await docker("kill", ...ids);
    const first = await next((m) => /worker/.test(m.text), 3_000);
    // The incident lists them (edited in place as the last deaths arrive).
    await waitUntil("all 20 listed", () => (/worker: 20 containers down/.test(first.text) ? true : undefined), 5_000);
    await compose("up", "-d", "--scale", "worker=1");
    // The recovery is queued after every death was handled: whatever else the burst sent came before it.
    const recovery = await next((m) => /🟢 prod: worker recovered/.test(m.text), 30_000);
    const messages = sentSince(mark).filter((m) => m.index < recovery.index);
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(messages.length).toBeLessThanOrEqual(2);
    await settled();
  });

  it("Telegram answers 429 retry_after 3: the alert arrives after the wait, exactly once", async () => {
    const mark = telegram.messages.length;
    telegram.failNext("sendMessage", { status: 429, retryAfter: 3 });
    const killedAt = Date.now();
    await docker("kill", await webId());
    const alert = await next((m) => /🔴 prod: web exited/.test(m.text), 10_000);
    expect(alert.sentAt.getTime() - killedAt).toBeGreaterThanOrEqual(3_000);
    const refused = telegram.calls.filter((c) => c.method === "sendMessage" && c.fault && "status" in c.fault && c.fault.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    await compose("up", "-d");
    await next((m) => /🟢 prod: web recovered/.test(m.text), 20_000);
    expect(sentSince(mark, (m) => /^🔴 prod: web exited/.test(m.text))).toHaveLength(1);
    await settled();
  });

  it("an expected change (our own deploy recreating web) raises no alert", async () => {
    const mark = telegram.messages.length;
    const change = health!.expected.expect("prod", ["web"], Date.now() + 120_000);
    const before = await webId();
    await compose("up", "-d", "--force-recreate", "web");
    expect(await webId()).not.toBe(before);
    await waitUntil("web healthy again", async () => (await docker("inspect", "-f", "{{.State.Health.Status}}", await webId())) === "healthy" || undefined, 30_000);
    change.end();
    await marker();
    expect(sentSince(mark, (m) => /web/.test(m.text))).toEqual([]);
    // The change's grace period for trailing events (5 s) must be over before the next test kills web.
    const registry = health!.expected as unknown as { isTargetChanging(target: string): boolean };
    await waitUntil("the expected change's grace period over", () => (registry.isTargetChanging("prod") ? undefined : true), 10_000);
    expect(health!.alerts.openIncidents()).toEqual([]);
    await settled();
  });

  it("restart while an incident is open: no duplicate message, and the recovery still comes", async () => {
    const mark = telegram.messages.length;
    await docker("kill", await webId());
    await next((m) => /🔴 prod: web exited/.test(m.text), 3_000);
    await health!.stop();
    const [row] = await database.db.select().from(incidents).where(eq(incidents.state, "open"));
    expect(row?.messages).toHaveLength(1); // the message id survives in the DB
    await startMonitoring({ remindEveryMs: 2_000 });
    await sleep(1_500);
    await compose("up", "-d");
    await next((m) => /🟢 prod: web recovered/.test(m.text), 20_000);
    // This instance reminds every 2 s, so "⏰ … still down" messages may come; the alert itself is not repeated.
    const alerts = sentSince(mark, (m) => /^🔴 prod: web exited/.test(m.text));
    expect(alerts).toHaveLength(1);
    // The recovery edited the original message (same message id), not a copy.
    const original = alerts[0]!;
    await waitUntil("the original edited to resolved", () => (/resolved after/.test(original.text) ? true : undefined), 5_000);
    expect(original.messageId).toBe(row?.messages[0]?.messageId);
    // Everything queued was delivered, nothing given up.
    const repo = new AlertOutboxRepo(database.db);
    await waitUntil("an empty outbox", async () => ((await repo.pending(10)).length === 0 ? true : undefined), 15_000);
    expect((await repo.all()).filter((o) => o.givenUpAt !== null)).toEqual([]);
    await settled();
  });

  it("Ack stops reminders (and is audited); Mute keeps the key silent until it ends", async () => {
    // This instance reminds every 2 s (started by the restart test).
    const id = await webId();
    await docker("exec", id, "rm", "/www/health");
    const alert = await next((m) => /HTTP check web: status 404/.test(m.text) && !m.text.startsWith("⏰"), 10_000);
    await next((m) => m.text.startsWith("⏰") && /HTTP check web/.test(m.text), 6_000);

    const answer = await press(alert, "Ack");
    expect(answer.text).toMatch(/^Acknowledged/);
    const [ackRow] = await database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.ack"));
    expect(ackRow).toMatchObject({ userId: ALICE.id, username: "alice", target: "prod", outcome: "confirmed" });
    await waitUntil("the alert shows the ack", () => (/acked by @alice/.test(alert.text) ? true : undefined), 5_000);
    const afterAck = telegram.messages.length;
    // Marker: an unacked incident opened after the ack gets its reminder; the acked one, older, would have had its own by then.
    await docker("kill", await compose("ps", "-q", "worker"));
    await waitUntil("a reminder of worker", () => sentSince(afterAck, (m) => m.text.startsWith("⏰") && /worker/.test(m.text))[0], 15_000);
    await compose("up", "-d", "worker");
    await waitUntil("worker recovered", () => sentSince(afterAck, (m) => /🟢 prod: worker recovered/.test(m.text))[0], 20_000);
    expect(sentSince(afterAck, (m) => m.text.startsWith("⏰") && /HTTP check web/.test(m.text))).toEqual([]);

    const muted = await press(alert, "Mute 1h");
    expect(muted.text).toBe("Muted for 1 h.");
    await waitUntil("the alert shows the mute", () => (/muted until/.test(alert.text) ? true : undefined), 5_000);
    const afterMute = telegram.messages.length;
    await docker("exec", id, "sh", "-c", "echo ok > /www/health");
    await waitUntil("the HTTP incident resolved", () =>
      health!.alerts.openIncidents().some((i) => i.key.subject === "web") ? undefined : true,
    );
    await docker("exec", id, "rm", "/www/health");
    await waitUntil("the HTTP incident reopened (muted)", () =>
      health!.alerts.openIncidents().find((i) => i.key.subject === "web" && i.state === "muted"),
    );
    await marker();
    // Neither the recovery nor the new failure of the muted key reached the chat.
    expect(sentSince(afterMute, (m) => /HTTP check web/.test(m.text))).toEqual([]);
    const [muteAudit] = await database.db.select().from(auditEvents).where(eq(auditEvents.action, "alerts.mute"));
    expect(muteAudit).toMatchObject({ userId: ALICE.id, args: { minutes: 60 } });
    await docker("exec", id, "sh", "-c", "echo ok > /www/health");
    await settled();
  });
  it("sshd stops: one unreachable incident, no Docker or HTTP alerts; back while web is down: web's incident appears", async () => {
    await health!.stop();
    await startMonitoring({}, { reachabilityIntervalSeconds: 5 });
    await say("/unmute web"); // the test before muted it for an hour
    const mark = telegram.messages.length;
    const listener = await sshdPid();
    // Freeze the listener (new connections hang before the SSH banner) and end the open sessions.
    process.kill(listener, "SIGSTOP");
    try {
      for (const child of await childPids(listener)) process.kill(child, "SIGKILL");
      await docker("kill", await webId());
      const down = await next((m) => m.index >= mark && /🔴 prod: not answering over SSH/.test(m.text), 60_000);
      expect(down.text).toMatch(/its Docker, HTTP and disk alerts are held back until it answers/);
      expect(sentSince(mark, (m) => /prod: web|HTTP check/.test(m.text))).toEqual([]);
    } finally {
      process.kill(listener, "SIGCONT");
    }
    // Back: the recovery of the target, and web (still down) is alerted now, once.
    await next((m) => m.index >= mark && /^🟢 prod: SSH reachability recovered/.test(m.text), 60_000);
    const web = await next((m) => m.index >= mark && /🔴 prod: (web|HTTP check web)/.test(m.text), 30_000);
    expect(sentSince(mark, (m) => /^🔴 prod: not answering over SSH/.test(m.text))).toHaveLength(1);
    expect(sentSince(mark, (m) => /^🔴 prod: (web|HTTP check web)/.test(m.text))).toEqual([web]);
    await compose("up", "-d");
    await settled();
    await health!.stop();
    await startMonitoring();
  });

  it("disk, backup age, payouts reminder and reachability against the real target and database", async () => {
    // A second instance on its own database and chat, so its alerts do not mix with the ones above.
    const AUX_CHAT = -1005678;
    const aux = await openDatabase({ url: createTestDatabase("health_aux"), dataDir: "/unused" });
    await migrate(aux);
    const deadPort = await freePort();
    const parsed = fileSchema.parse({
      targets: {
        aux: {
          host: `ssh://${sandbox.ssh.username}@127.0.0.1:${sandbox.ssh.port}`,
          ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath },
          appDir: sandbox.appDir,
          compose: { command: "docker-compose", project: "nosuchproject" },
          // reminderMinutes 0: aux's incidents are never reminded (gone's, every 1.2 s, show reminders do run).
          health: { disk: { path: "/", warnPercent: 1, intervalSeconds: 5 }, backupMaxAgeHours: 1, payoutsPausedReminderMinutes: 0.02, reminderMinutes: 0 },
        },
        gone: {
          host: `ssh://${sandbox.ssh.username}@127.0.0.1:${deadPort}`,
          ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath, connectTimeoutSeconds: 2 },
          appDir: sandbox.appDir,
          compose: { command: "docker-compose", project: "gone" },
          health: { reachabilityIntervalSeconds: 5, reminderMinutes: 0.02 },
        },
      },
    }).targets;
    const auxConn = createTargetConnections("aux", parsed.aux!, log);
    const goneConn = createTargetConnections("gone", parsed.gone!, log);
    // A backup older than the window: alerts at once (with none at all, the window counts from today).
    await aux.db.insert(backups).values({ target: "aux", status: "succeeded", path: "/backups/old.dump", createdAt: new Date(Date.now() - 2 * 3_600_000) });
    await aux.db.insert(payoutsState).values({ target: "aux", paused: true, byName: "alice", reason: "fraud check", since: new Date(Date.now() - 3_600_000) });
    const second = await startHealth({
      ...healthPorts(aux.db),
      notifier: new TelegramNotifier(new Api(telegram.token, { apiRoot: telegram.apiRoot }), { log, perChatIntervalMs: 200 }),
      targets: {
        aux: { shell: auxConn.shell, docker: auxConn.docker, project: auxConn.project, config: parsed.aux!.health },
        gone: { shell: goneConn.shell, docker: goneConn.docker, project: goneConn.project, config: parsed.gone!.health },
      },
      alertChatIds: [AUX_CHAT],
      log,
      tuning: { coalesceMs: 200, backupCheckIntervalMs: 500, payoutsCheckIntervalMs: 500, tickMs: 200, outboxPollMs: 500 },
    });
    const inAux = (re: RegExp) => (m: BotMessage) => m.chatId === AUX_CHAT && re.test(m.history[0]?.text ?? m.text);
    // Alerts that open together share one message (coalesced), so look without consuming.
    const seen = (re: RegExp, timeoutMs = 10_000) => waitUntil(`a message matching ${re}`, () => telegram.messages.find(inAux(re)), timeoutMs);
    try {
      await seen(/🔴 aux: disk \/ is \d+% full \(warning at 1%\)/);
      await seen(/🔴 aux: no successful backup since .* UTC \(max age 1 h\)/);
      await seen(/🔴 aux: payouts paused since .* by @alice: fraud check/);
      // The payouts reminder repeats at its interval while paused.
      await waitUntil("two payouts reminders", () => (telegram.messages.filter(inAux(/^⏰ aux: payouts paused since/)).length >= 2 ? true : undefined));
      await seen(/🔴 gone: not answering over SSH/, 20_000);
      // Marker: two reminders of gone's incident (opened after aux's disk alert) have come; aux's disk alert, older, got none.
      await waitUntil("two reminders of gone", () => (telegram.messages.filter(inAux(/⏰ gone: still down/)).length >= 2 ? true : undefined), 15_000);
      expect(telegram.messages.filter(inAux(/⏰ aux: still down/))).toEqual([]);

      await aux.db.insert(backups).values({ target: "aux", status: "succeeded", path: "/backups/aux.dump", createdAt: new Date() });
      await seen(/^🟢 aux: backups are fresh again after/);
      await aux.db.update(payoutsState).set({ paused: false }).where(eq(payoutsState.target, "aux"));
      await seen(/^🟢 aux: payouts resumed/);
      const reminders = telegram.messages.filter(inAux(/^⏰ aux: payouts/)).length;
      await sleep(2_000);
      expect(telegram.messages.filter(inAux(/^⏰ aux: payouts/)).length).toBe(reminders); // resolved: no more
    } finally {
      await second.stop();
      await auxConn.close();
      await goneConn.close();
      await aux.close();
    }
  });
});
