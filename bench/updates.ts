/**
 * Update throughput benchmark (issue 2, "Benchmark"): the real opsgram process against the Bot API
 * emulator and a real Postgres, next to a bare grammY bot in the same run.
 *
 *   cd /work/main && npx tsx bench/updates.ts            # measure, print, update docs/BENCHMARKS.md
 *   npx tsx bench/updates.ts --rounds 1                   # one round instead of 3 (faster, noisier)
 *   npx tsx bench/updates.ts --profile                    # + CPU profiles of the bots (figures not recorded)
 *   npx tsx bench/updates.ts --no-write                   # do not touch docs/BENCHMARKS.md
 *
 * Every bot runs as its own process with its own emulator, all started (and warmed up) before the
 * first measurement and idle except while measured, so compared figures are seconds apart. All
 * traffic is on 127.0.0.1. Each round runs these scenarios against every bot in turn:
 *   A burst    5,000 `/help` from allowlisted users in admin chats, all enqueued at once.
 *   A steady     400 `/help` offered at a fixed rate (default 100/s): latency when not saturated.
 *   B flood   10,000 messages from strangers (private chats, and strangers inside an admin group).
 * Then, in this process and without any bot, the two DB writes opsgram makes per admin update
 * (ProcessedUpdates.markProcessed, PostgresAuditLog.append) on their own: the ceilings they put on
 * opsgram's admin throughput.
 * Bots: opsgram (`src/main.ts`, as `npm start`), the bare bot with @grammyjs/runner (the named
 * baseline: same polling as opsgram), and the bare bot with grammY's sequential `bot.start()`
 * (round 1 only). The whole run is bounded: fixed counts, a timeout per wait, a time limit overall,
 * and everything it started is stopped on success, failure, Ctrl-C or SIGTERM.
 */
import { execFileSync } from "node:child_process";
import { loadavg, cpus } from "node:os";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { BotApiEmulator } from "../test/emulator/bot-api-emulator.js";
import { startBotProcess } from "../test/support/bot-process.js";
import { startPostgres } from "../test/support/postgres.js";
import { openDatabase } from "../src/infra/db/client.js";
import { PostgresAuditLog } from "../src/infra/db/audit-log.js";
import { migrate } from "../src/infra/db/migrate.js";
import { ProcessedUpdates } from "../src/infra/db/processed-updates.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { cpuMsOf, memoryOf, treeCpuMsOf, type Memory } from "./lib/proc.js";
import { startScriptProcess } from "./lib/script-process.js";
import { fifoLatencies, median, summarize, type LatencySummary } from "./lib/stats.js";
import { markdownTable, replaceSection } from "./lib/markdown.js";
import { readProfileFrom, renderProfile, summarizeProfile } from "./lib/cpu-profile.js";

// ------------------------------------------------------------------ parameters

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const value = i === -1 ? fallback : Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
};

const ROUNDS = option("--rounds", 3);
const STEADY_RATE = option("--rate", 100); // updates/s offered in "A steady"
const PROFILE = flag("--profile");
/** Shrinks every scenario (e.g. 0.1 while developing); only full-size runs are recorded. */
const SCALE = option("--scale", 1);
const WRITE_DOCS = !flag("--no-write") && !PROFILE && SCALE === 1; // profiled figures are slower: never recorded

const N_WARMUP = 1_000;
const N_ADMIN = Math.round(5_000 * SCALE);
const N_STEADY = Math.round(400 * SCALE);
/** Calls per component in the "DB write ceilings" check. */
const N_COMPONENT = Math.round(1_000 * SCALE);
const N_STRANGER = Math.round(10_000 * SCALE);
/** The whole run is cut off (and cleaned up) after this, whatever it is doing. */
const TIME_LIMIT_MS = 60_000 + 200_000 * ROUNDS;
const SCENARIO_TIMEOUT_MS = 150_000;
/**
 * LOG_LEVEL for opsgram: "info", the default (src/config/env.ts) and what `npm start` runs in
 * production. At info the admin path logs nothing per update, and each refused stranger update logs
 * one "denied" line: that line is part of opsgram's real cost, so it stays in the measurement.
 */
const LOG_LEVEL = "info";

/**
 * 20 admin groups: enough that in "A steady" a chat sees one /help every 100 ms, so replies — told
 * apart only by chat — are paired with their update exactly (see fifoLatencies).
 */
const ADMIN_CHATS = Array.from({ length: 20 }, (_, i) => ({ id: -1002000000100 - i, type: "supergroup" as const }));
const ADMIN_USERS = Array.from({ length: 5 }, (_, i) => ({ id: 7001 + i, username: `oncall${i + 1}` }));
/** An admin group that strangers write in (refused as unknown_user). */
const INTRUDED_GROUP = { id: -1002000000999, type: "supergroup" as const };
/**
 * 10 (chat, user) pairs: 8 strangers in their private chats, 2 strangers inside an admin group.
 * New people every round, so each round's flood starts with fresh rate windows.
 */
function strangersOfRound(round: number) {
  const base = 900_000 + round * 1_000;
  return [
    ...Array.from({ length: 8 }, (_, i) => ({ chat: { id: base + 1 + i, type: "private" as const }, user: { id: base + 1 + i } })),
    ...Array.from({ length: 2 }, (_, i) => ({ chat: INTRUDED_GROUP, user: { id: base + 101 + i } })),
  ];
}
const STRANGER_PAIRS = strangersOfRound(0);

type BotKind = "opsgram" | "bare-runner" | "bare-sequential";
const BASELINE: BotKind = "bare-runner";
const BOT_LABEL: Record<BotKind, string> = {
  opsgram: "opsgram (runner, audit + dedupe on Postgres)",
  "bare-runner": "bare grammY, @grammyjs/runner (baseline)",
  "bare-sequential": "bare grammY, bot.start() (sequential; round 1 only)",
};

// ------------------------------------------------------------------ results

interface Cpu {
  /** CPU ms per 1,000 updates in the bot process, the Postgres server and the harness (emulator). */
  botMsPerK: number;
  postgresMsPerK: number;
  harnessMsPerK: number;
}

interface AdminResult {
  updates: number;
  seconds: number;
  updatesPerSecond: number;
  latencyMs: LatencySummary;
  /** Replies that were not the expected text (errors): must be 0. */
  wrongReplies: number;
  wrongSamples: string[];
  /**
   * Updates sent to a chat before the reply to that chat's previous update was recorded: their
   * FIFO pairing could be wrong if a bot answered out of order. 0 means every latency is exact.
   */
  overlapping: number;
  /** Bot API calls the bot made during the scenario. */
  apiCalls: { getUpdates: number; other: number };
  cpu: Cpu;
  /** opsgram only: rows added (expected: one audit row and one processed_updates row per update). */
  auditRows?: number;
  processedRows?: number;
  /** opsgram only: what the bot's Postgres connections were doing, sampled every 100 ms. */
  connections?: ConnectionSample;
}

interface FloodResult {
  updates: number;
  /** First enqueue → emulator idle (no pending update, bot polling again, no call in flight). */
  drainSeconds: number;
  updatesPerSecond: number;
  /** First enqueue → the last update demonstrably handled (bare: last reply; opsgram: last "denied" log line's time). */
  handledSeconds: number;
  handledUpdatesPerSecond: number;
  replies: number;
  cpu: Cpu;
  apiCalls: { getUpdates: number; other: number };
  /** opsgram only. */
  db?: { auditRows: number; processedRows: number; pairs: number; maxRowsPerPair: number; allowedWrites: number; windowSeconds: number };
}

interface BotRun {
  bot: BotKind;
  round: number;
  adminBurst: AdminResult;
  adminSteady: AdminResult;
  flood: FloodResult;
  memory: { afterWarmup: Memory | undefined; afterAdmin: Memory | undefined; afterFlood: Memory | undefined };
}

// ------------------------------------------------------------------ plumbing

const cleanup = new Cleanup();
const disarm = cleanup.armExits(TIME_LIMIT_MS);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (text: string) => process.stdout.write(`${text}\n`);

async function until(what: string, condition: () => boolean, state?: () => string, timeoutMs = SCENARIO_TIMEOUT_MS, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? ` (${state()})` : ""}`);
    await sleep(everyMs);
  }
}

interface RunningBot {
  pid: number;
  /** opsgram only: how many "denied" log lines so far, and the pino `time` of the latest. */
  denied?: () => { count: number; lastAt: number };
  /** Error and fatal log lines so far (opsgram only), to explain failed replies. */
  errors?: () => Record<string, unknown>[];
  /** The end of what the process printed, for error messages. */
  outputTail(): string;
  stop(): Promise<void>;
}

async function startBot(kind: BotKind, emulator: BotApiEmulator, databaseUrl: string, profileDir: string | undefined): Promise<RunningBot> {
  const nodeOptions: Record<string, string> = profileDir
    ? { NODE_OPTIONS: `--import ${resolve(import.meta.dirname, "lib/cpu-profiler.mjs")}`, BENCH_CPU_PROFILE_DIR: profileDir }
    : {};
  const telegram = { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot };
  if (kind === "opsgram") {
    const bot = startBotProcess({
      env: {
        ...telegram,
        ...nodeOptions,
        ADMIN_CHAT_IDS: [...ADMIN_CHATS.map((c) => c.id), INTRUDED_GROUP.id].join(","),
        ADMIN_USER_IDS: ADMIN_USERS.map((u) => u.id).join(","),
        DATABASE_URL: databaseUrl,
        LOG_LEVEL,
      },
    });
    const stop = cleanup.add("opsgram process", () => bot.stop());
    await bot.waitForLog((l) => l.msg === "opsgram started", 60_000);
    let scanned = 0;
    let count = 0;
    let lastAt = 0;
    return {
      pid: bot.child.pid!,
      denied() {
        const lines = bot.logs();
        for (; scanned < lines.length; scanned++) {
          const line = lines[scanned]!;
          if (line.msg === "denied") {
            count++;
            lastAt = Math.max(lastAt, Number(line.time));
          }
        }
        return { count, lastAt };
      },
      errors: () => bot.logs().filter((l) => Number(l.level) >= 50),
      outputTail: () =>
        bot
          .logs()
          .filter((l) => Number(l.level) >= 40)
          .slice(-5)
          .map((l) => JSON.stringify(l).slice(0, 800))
          .join("\n"),
      stop,
    };
  }
  const bot = startScriptProcess("bench/bare-bot.mjs", {
    ...telegram,
    ...nodeOptions,
    BARE_POLLING: kind === "bare-runner" ? "runner" : "sequential",
  });
  const stop = cleanup.add(`${kind} process`, () => bot.stop());
  await bot.waitForLog((l) => l.msg === "bare bot started", 60_000);
  return { pid: bot.pid, outputTail: () => bot.output().slice(-3000), stop };
}

interface ConnectionSample {
  samples: number;
  /** Mean number of the bot's connections in each state. */
  open: number;
  /** Running a statement (not waiting on a lock). */
  running: number;
  /** Blocked in pg_advisory_xact_lock: queued for the audit chain. */
  waitingForAuditLock: number;
  /** Inside a transaction, waiting for the bot to send the next statement. */
  idleInTransaction: number;
}

/**
 * Samples pg_stat_activity for the bot's database every 100 ms until stopped. Shows whether
 * the bot's connections are busy, queued on the audit chain's advisory lock, or holding a
 * transaction open while the bot's event loop gets round to the next statement.
 */
function sampleConnections(sql: postgres.Sql): () => Promise<ConnectionSample> {
  const totals = { samples: 0, open: 0, running: 0, waitingForAuditLock: 0, idleInTransaction: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      // A sampling query that fails (the run is being cleaned up) ends the sampling, nothing else.
      const rows = await sql<{ open: string; running: string; lock: string; idle_tx: string }[]>`
        SELECT count(*) AS open,
               count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock') AS running,
               count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory') AS lock,
               count(*) FILTER (WHERE state = 'idle in transaction') AS idle_tx
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`.catch(() => undefined);
      const row = rows?.[0];
      if (!row) break;
      totals.samples++;
      totals.open += Number(row.open);
      totals.running += Number(row.running);
      totals.waitingForAuditLock += Number(row.lock);
      totals.idleInTransaction += Number(row.idle_tx);
      await sleep(100);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    const mean = (v: number) => (totals.samples > 0 ? v / totals.samples : Number.NaN);
    return {
      samples: totals.samples,
      open: mean(totals.open),
      running: mean(totals.running),
      waitingForAuditLock: mean(totals.waitingForAuditLock),
      idleInTransaction: mean(totals.idleInTransaction),
    };
  };
}

/** Bot API calls made from now until the returned function is called. */
function callCounter(emulator: BotApiEmulator): () => { getUpdates: number; other: number } {
  const first = emulator.calls.length;
  return () => {
    const calls = emulator.calls.slice(first);
    const getUpdates = calls.filter((c) => c.method.toLowerCase() === "getupdates").length;
    return { getUpdates, other: calls.length - getUpdates };
  };
}

/** CPU meters for one scenario. */
/** What the emulator saw, for timeout messages. */
function emulatorState(emulator: BotApiEmulator, firstReply: number): string {
  const recent = emulator.calls.filter((c) => c.method !== "getUpdates").slice(-3).map((c) => `${c.method} → ${JSON.stringify(c.response).slice(0, 160)}`);
  return `replies so far ${emulator.messages.length - firstReply}, pending updates ${emulator.pendingUpdates}, calls ${emulator.calls.length}; last calls: ${recent.join(" | ")}`;
}

function cpuMeter(botPid: number, postgresPid: number) {
  const start = { bot: cpuMsOf(botPid), pg: treeCpuMsOf(postgresPid), harness: process.cpuUsage() };
  return (updates: number): Cpu => {
    const harness = process.cpuUsage(start.harness);
    const perK = (ms: number) => (ms * 1000) / updates;
    return {
      botMsPerK: perK(cpuMsOf(botPid) - start.bot),
      postgresMsPerK: perK(treeCpuMsOf(postgresPid) - start.pg),
      harnessMsPerK: perK((harness.user + harness.system) / 1000),
    };
  };
}

// ------------------------------------------------------------------ scenarios

/** Sends `n` /help (all at once, or at `rate` per second) and pairs every reply with its update. */
async function adminScenario(emulator: BotApiEmulator, n: number, rate: number | undefined, expectText: string | undefined) {
  const firstReply = emulator.messages.length;
  const sentAt = new Map<number, number[]>();
  const send = (i: number) => {
    const chat = ADMIN_CHATS[i % ADMIN_CHATS.length]!;
    emulator.sendCommand(chat, ADMIN_USERS[i % ADMIN_USERS.length]!, "/help");
    const list = sentAt.get(chat.id) ?? [];
    list.push(Date.now());
    sentAt.set(chat.id, list);
  };
  const t0 = Date.now();
  if (rate === undefined) {
    for (let i = 0; i < n; i++) send(i);
  } else {
    let i = 0;
    while (i < n) {
      const due = Math.min(n, Math.floor(((Date.now() - t0) * rate) / 1000) + 1);
      while (i < due) send(i++);
      if (i < n) await sleep(1);
    }
  }
  await until(`${n} replies`, () => emulator.messages.length - firstReply >= n, () => emulatorState(emulator, firstReply));
  const replies = emulator.messages.slice(firstReply);
  const repliedAt = new Map<number, number[]>();
  let wrong = 0;
  const wrongSamples = new Set<string>();
  let last = 0;
  for (const reply of replies) {
    const list = repliedAt.get(reply.chatId) ?? [];
    list.push(reply.sentAt.getTime());
    repliedAt.set(reply.chatId, list);
    last = Math.max(last, reply.sentAt.getTime());
    if (expectText !== undefined && !reply.text.startsWith(expectText)) {
      wrong++;
      if (wrongSamples.size < 3) wrongSamples.add(reply.text.slice(0, 120));
    }
  }
  const latencies = fifoLatencies(sentAt, repliedAt);
  let overlapping = 0;
  for (const [chat, sent] of sentAt) {
    const replied = repliedAt.get(chat) ?? [];
    for (let k = 1; k < sent.length; k++) if (sent[k]! < (replied[k - 1] ?? Infinity)) overlapping++;
  }
  if (latencies === null) throw new Error("replies do not match updates chat by chat (a reply went to the wrong chat or is missing)");
  const seconds = Math.max(last - t0, 1) / 1000;
  return { updates: n, seconds, updatesPerSecond: n / seconds, latencyMs: summarize(latencies), wrongReplies: wrong, wrongSamples: [...wrongSamples], overlapping };
}

async function floodScenario(emulator: BotApiEmulator, bot: RunningBot, n: number, strangers: typeof STRANGER_PAIRS) {
  const firstReply = emulator.messages.length;
  const deniedBefore = bot.denied?.().count ?? 0;
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const pair = strangers[i % strangers.length]!;
    emulator.sendText(pair.chat, pair.user, `let me in ${i}`);
  }
  await emulator.waitUntilIdle(SCENARIO_TIMEOUT_MS);
  const idleAt = Date.now();
  // Proof that every update was handled, not just fetched: a reply each (bare) or a "denied" line each (opsgram).
  let handledAt: number;
  if (bot.denied) {
    await until(`${n} "denied" log lines`, () => bot.denied!().count - deniedBefore >= n, () => `${bot.denied!().count - deniedBefore} so far; ${emulatorState(emulator, firstReply)}`);
    handledAt = bot.denied().lastAt;
  } else {
    await until(`${n} replies`, () => emulator.messages.length - firstReply >= n, () => emulatorState(emulator, firstReply));
    handledAt = Math.max(...emulator.messages.slice(firstReply).map((m) => m.sentAt.getTime()));
  }
  const drainSeconds = Math.max(idleAt - t0, 1) / 1000;
  const handledSeconds = Math.max(handledAt - t0, 1) / 1000;
  return {
    updates: n,
    drainSeconds,
    updatesPerSecond: n / drainSeconds,
    handledSeconds,
    handledUpdatesPerSecond: n / handledSeconds,
    replies: emulator.messages.length - firstReply,
    t0,
  };
}

// ------------------------------------------------------------------ DB write ceilings

interface ComponentResult {
  name: string;
  concurrency: number;
  calls: number;
  callsPerSecond: number;
  /** CPU of this process (the caller: drizzle + postgres.js) per call, ms. */
  clientCpuMs: number;
  postgresCpuMs: number;
}

/**
 * The per-update DB writes of opsgram's admin path, called directly from this process on a
 * separate database of the same server: 500 concurrent callers (the runner's default concurrency)
 * and 1 (no contention). If one of them alone cannot go faster than X/s, neither can opsgram.
 */
async function componentCeilings(pg: { createDatabase(name: string): string }, pgPid: number): Promise<ComponentResult[]> {
  const url = pg.createDatabase(`bench_components_${randomBytes(4).toString("hex")}`);
  const handle = await openDatabase({ url, dataDir: resolve(tmpdir()) });
  const closeHandle = cleanup.add("component db", () => handle.close());
  await migrate(handle);
  const audit = new PostgresAuditLog(handle.db);
  const processed = new ProcessedUpdates(handle.db);
  const event = { chatId: ADMIN_CHATS[0]!.id, userId: ADMIN_USERS[0]!.id, username: ADMIN_USERS[0]!.username, action: "help", target: null, args: null, outcome: "info" as const, operationId: null, detail: null };
  let updateId = 1;
  const run = async (name: string, concurrency: number, call: () => Promise<unknown>): Promise<ComponentResult> => {
    let started = 0;
    const cpu0 = process.cpuUsage();
    const pg0 = treeCpuMsOf(pgPid);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < N_COMPONENT) {
          started++;
          await call();
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      name,
      concurrency,
      calls: N_COMPONENT,
      callsPerSecond: N_COMPONENT / seconds,
      clientCpuMs: (cpu.user + cpu.system) / 1000 / N_COMPONENT,
      postgresCpuMs: (treeCpuMsOf(pgPid) - pg0) / N_COMPONENT,
    };
  };
  await run("warm-up", 10, () => audit.append(event));
  const results: ComponentResult[] = [];
  for (const concurrency of [500, 1]) {
    results.push(await run("ProcessedUpdates.markProcessed", concurrency, () => processed.markProcessed(updateId++)));
    results.push(await run("PostgresAuditLog.append", concurrency, () => audit.append(event)));
  }
  const chain = await audit.verifyChain();
  if (!chain.ok) throw new Error(`component audit chain broken at id ${chain.brokenAtId}: ${chain.reason}`);
  await closeHandle();
  for (const r of results) log(`  ${r.name} ×${r.concurrency}: ${fmt(r.callsPerSecond)}/s, ${fmt(r.clientCpuMs, 2)} ms client CPU, ${fmt(r.postgresCpuMs, 2)} ms Postgres CPU per call`);
  return results;
}

// ------------------------------------------------------------------ one bot, all scenarios

async function dbCounts(sql: postgres.Sql): Promise<{ audit: number; processed: number; lastAuditId: number }> {
  const [row] = await sql<{ audit: string; processed: string; last: string | null }[]>`
    SELECT (SELECT count(*) FROM audit_events) AS audit, (SELECT count(*) FROM processed_updates) AS processed,
           (SELECT max(id) FROM audit_events) AS last`;
  return { audit: Number(row!.audit), processed: Number(row!.processed), lastAuditId: Number(row!.last ?? 0) };
}

async function postmasterPid(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`;
  // The checkpointer is a direct child of the postmaster: its parent is the server's root process.
  const stat = readFileSync(`/proc/${row!.pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** One bot with its own emulator, kept running for the whole benchmark (idle while others are measured). */
interface Lane {
  kind: BotKind;
  emulator: BotApiEmulator;
  bot: RunningBot;
  expectText: string;
  profileDir: string | undefined;
  memory: BotRun["memory"];
  stop(): Promise<void>;
}

async function startLane(kind: BotKind, databaseUrl: string): Promise<Lane> {
  const emulator = await BotApiEmulator.start();
  const stopEmulator = cleanup.add(`${kind} emulator`, () => emulator.stop());
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), `bench-prof-${kind}-`)) : undefined;
  if (profileDir) cleanup.add("profile dir", () => rmSync(profileDir, { recursive: true, force: true }));
  const bot = await startBot(kind, emulator, databaseUrl, profileDir);
  const expectText = kind === "opsgram" ? "opsgram — run this VPS from chat." : "bare bot — a constant reply.";
  await adminScenario(emulator, N_WARMUP, undefined, expectText); // JIT and connection pool warm-up
  await emulator.waitUntilIdle(SCENARIO_TIMEOUT_MS);
  const memory = { afterWarmup: memoryOf(bot.pid), afterAdmin: undefined, afterFlood: undefined };
  log(`  started ${BOT_LABEL[kind]}: pid ${bot.pid}, RSS ${fmt(memory.afterWarmup?.rssMiB ?? Number.NaN)} MiB after warm-up`);
  return {
    kind,
    emulator,
    bot,
    expectText,
    profileDir,
    memory,
    async stop() {
      await bot.stop();
      await stopEmulator();
      if (emulator.internalErrors.length > 0) throw new Error(`emulator internal errors: ${emulator.internalErrors.map((e) => e.message).join("; ")}`);
      if (profileDir) {
        const profile = readProfileFrom(profileDir);
        log(profile ? renderProfile(BOT_LABEL[kind], summarizeProfile(profile, 20)) : `  (no CPU profile written in ${profileDir})`);
      }
    },
  };
}

async function measureAdmin(lane: Lane, n: number, rate: number | undefined, sql: postgres.Sql, pgPid: number): Promise<AdminResult> {
  const before = lane.kind === "opsgram" ? await dbCounts(sql) : undefined;
  const meter = cpuMeter(lane.bot.pid, pgPid);
  const calls = callCounter(lane.emulator);
  const stopSampling = before ? sampleConnections(sql) : undefined;
  const measured = await adminScenario(lane.emulator, n, rate, lane.expectText).catch((err: Error) => {
    throw new Error(`${lane.kind}: ${err.message}\nend of its output (warnings and errors):\n${lane.bot.outputTail()}`);
  });
  const connections = await stopSampling?.();
  await lane.emulator.waitUntilIdle(SCENARIO_TIMEOUT_MS);
  const result: AdminResult = { ...measured, cpu: meter(n), apiCalls: calls(), ...(connections ? { connections } : {}) };
  if (result.wrongReplies > 0) {
    const errors = (lane.bot.errors?.() ?? []).slice(-3).map((l) => JSON.stringify(l).slice(0, 600));
    throw new Error(
      `${lane.kind}: ${result.wrongReplies} of ${n} replies were not the expected answer, e.g. ${JSON.stringify(measured.wrongSamples)}` +
        (errors.length > 0 ? `\nlast error log lines:\n${errors.join("\n")}` : ""),
    );
  }
  if (before) {
    const after = await dbCounts(sql);
    result.auditRows = after.audit - before.audit;
    result.processedRows = after.processed - before.processed;
  }
  lane.memory.afterAdmin = memoryOf(lane.bot.pid);
  const what = rate === undefined ? "A burst " : `A steady (offered ${rate}/s)`;
  log(`  ${what}: ${lane.kind.padEnd(15)} ${fmt(result.updatesPerSecond).padStart(5)} updates/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
  return result;
}

async function measureFlood(lane: Lane, round: number, sql: postgres.Sql, pgPid: number): Promise<FloodResult> {
  const before = lane.kind === "opsgram" ? await dbCounts(sql) : undefined;
  const meter = cpuMeter(lane.bot.pid, pgPid);
  const calls = callCounter(lane.emulator);
  const flood = await floodScenario(lane.emulator, lane.bot, N_STRANGER, strangersOfRound(round));
  const result: FloodResult = { ...withoutT0(flood), cpu: meter(N_STRANGER), apiCalls: calls() };
  if (before) {
    // Writes still in flight (the first refusal of each pair is audited) land before we count.
    let previous = -1;
    let now = await dbCounts(sql);
    while (now.audit !== previous) {
      previous = now.audit;
      await sleep(300);
      now = await dbCounts(sql);
    }
    const perPair = await sql<{ n: string }[]>`
      SELECT count(*) AS n FROM audit_events WHERE id > ${before.lastAuditId} GROUP BY chat_id, user_id`;
    const windowSeconds = (Date.now() - flood.t0) / 1000;
    const windows = Math.floor(windowSeconds / 60) + 1; // "per minute": a pair may write once in each started minute
    result.db = {
      auditRows: now.audit - before.audit,
      processedRows: now.processed - before.processed,
      pairs: STRANGER_PAIRS.length,
      maxRowsPerPair: Math.max(0, ...perPair.map((r) => Number(r.n))),
      allowedWrites: STRANGER_PAIRS.length * windows,
      windowSeconds,
    };
  }
  lane.memory.afterFlood = memoryOf(lane.bot.pid);
  log(
    `  B flood : ${lane.kind.padEnd(15)} ${fmt(result.updatesPerSecond).padStart(5)} updates/s to drain (${fmt(result.handledUpdatesPerSecond)}/s to last handled), ${result.replies} replies` +
      (result.db ? `, DB writes ${result.db.auditRows + result.db.processedRows} (allowed ${result.db.allowedWrites})` : ""),
  );
  return result;
}

function withoutT0<T extends { t0: number }>(value: T): Omit<T, "t0"> {
  const { t0: _t0, ...rest } = value;
  return rest;
}

// ------------------------------------------------------------------ report

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const count = (n: number) => n.toLocaleString("en-US");
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

interface Verdict {
  goal: string;
  measured: string;
  pass: boolean;
}

/** The run of each bot that had the median throughput in each scenario (one round: that run). */
function medianRun(runs: BotRun[], bot: BotKind, metric: (r: BotRun) => number): BotRun {
  const mine = runs.filter((r) => r.bot === bot).sort((a, b) => metric(a) - metric(b));
  return mine[Math.floor((mine.length - 1) / 2)]!;
}

function report(runs: BotRun[], machine: Record<string, unknown>, components: ComponentResult[]) {
  const bots: BotKind[] = ["opsgram", "bare-runner", "bare-sequential"];
  const burstOf = (b: BotKind) => medianRun(runs, b, (r) => r.adminBurst.updatesPerSecond).adminBurst;
  const steadyOf = (b: BotKind) => medianRun(runs, b, (r) => r.adminSteady.latencyMs.p50).adminSteady;
  const floodOf = (b: BotKind) => medianRun(runs, b, (r) => r.flood.updatesPerSecond).flood;
  // Ratios are paired within a round (bots measured seconds apart), then the median over rounds.
  const run = (bot: BotKind, round: number) => runs.find((r) => r.bot === bot && r.round === round);
  const rounds = [...new Set(runs.map((r) => r.round))];
  const pairedRatio = (bot: BotKind, metric: (r: BotRun) => number) => {
    const perRound = rounds.filter((round) => run(bot, round)).map((round) => metric(run(bot, round)!) / metric(run(BASELINE, round)!));
    return { median: median(perRound), perRound };
  };
  const burstRatio = (bot: BotKind) => pairedRatio(bot, (r) => r.adminBurst.updatesPerSecond);
  const floodRatioOf = (bot: BotKind) => pairedRatio(bot, (r) => r.flood.updatesPerSecond);
  const admin = burstRatio("opsgram");
  const flood = floodRatioOf("opsgram");
  const floodHandled = pairedRatio("opsgram", (r) => r.flood.handledUpdatesPerSecond);
  const adminRatio = admin.median;
  const floodRatio = flood.median;
  const floodHandledRatio = floodHandled.median;
  const perRound = (ratios: number[]) => (ratios.length > 1 ? ` (rounds: ${ratios.map(pct).join(", ")})` : "");
  // The write limit must hold in every round's flood.
  const dbChecks = runs.filter((r) => r.bot === "opsgram").map((r) => r.flood.db!);
  const db = dbChecks[0]!;
  const writes = db.auditRows + db.processedRows;
  const writesOk = dbChecks.every((d) => d.auditRows + d.processedRows <= d.allowedWrites && d.maxRowsPerPair <= d.allowedWrites / d.pairs);
  const verdicts: Verdict[] = [
    { goal: "admin traffic ≥ 50% of the bare bot's throughput", measured: `${pct(adminRatio)}${perRound(admin.perRound)}`, pass: adminRatio >= 0.5 },
    { goal: "stranger flood ≥ 90% of the bare bot's throughput", measured: `${pct(floodRatio)}${perRound(flood.perRound)}`, pass: floodRatio >= 0.9 },
    {
      goal: "stranger flood: ≤ 1 DB write per (chat, user) per minute",
      measured:
        `${writes} writes (${db.auditRows} audit, ${db.processedRows} processed_updates) for ${db.pairs} pairs in ${fmt(db.windowSeconds, 1)} s; max ${db.maxRowsPerPair} per pair` +
        (dbChecks.length > 1 ? ` (round 1; ${dbChecks.length} rounds checked)` : ""),
      pass: writesOk,
    },
  ];

  const rows: string[][] = [];
  const ratioTo = (ratio: (bot: BotKind) => { median: number }, bot: BotKind) => (bot === BASELINE ? "1.00 (baseline)" : ratio(bot).median.toFixed(2));
  for (const bot of bots) {
    const r = burstOf(bot);
    rows.push([
      `A: ${count(N_ADMIN)} admin /help, burst`, BOT_LABEL[bot], fmt(r.updatesPerSecond), fmt(r.latencyMs.p50), fmt(r.latencyMs.p99), ratioTo(burstRatio, bot),
      bot === "opsgram" ? "≥ 0.50" : "", bot === "opsgram" ? (verdicts[0]!.pass ? "PASS" : "MISS") : "",
    ]);
  }
  for (const bot of bots) {
    const r = steadyOf(bot);
    rows.push([
      `A: ${count(N_STEADY)} admin /help at ${STEADY_RATE}/s`, BOT_LABEL[bot], fmt(r.updatesPerSecond), fmt(r.latencyMs.p50), fmt(r.latencyMs.p99), "", "", "",
    ]);
  }
  for (const bot of bots) {
    const r = floodOf(bot);
    rows.push([
      `B: ${count(N_STRANGER)} stranger messages, burst (to drain)`, BOT_LABEL[bot], fmt(r.updatesPerSecond), "", "", ratioTo(floodRatioOf, bot),
      bot === "opsgram" ? "≥ 0.90, ≤ 1 write/(chat,user)/min" : "",
      bot === "opsgram" ? (verdicts[1]!.pass && verdicts[2]!.pass ? "PASS" : "MISS") : "",
    ]);
  }
  const table = markdownTable(["scenario", "bot", "updates/s", "p50 ms", "p99 ms", "ratio to baseline", "goal", "verdict"], rows);

  const resourceRows = bots.map((bot) => {
    const chosen = medianRun(runs, bot, (r) => r.adminBurst.updatesPerSecond);
    const mem = (m: Memory | undefined) => (m ? fmt(m.rssMiB) : "–");
    const cpu = (c: Cpu) => `${fmt(c.botMsPerK)} / ${fmt(c.postgresMsPerK)} / ${fmt(c.harnessMsPerK)}`;
    return [BOT_LABEL[bot], mem(chosen.memory.afterWarmup), mem(chosen.memory.afterAdmin), mem(chosen.memory.afterFlood), chosen.memory.afterFlood ? fmt(chosen.memory.afterFlood.peakMiB) : "–", cpu(chosen.adminBurst.cpu), cpu(chosen.flood.cpu)];
  });
  const resources = markdownTable(
    ["bot", "RSS after warm-up MiB", "after A MiB", "after B MiB", "peak MiB", "CPU ms per 1k updates, A burst (bot / Postgres / emulator+harness)", "same, B flood"],
    resourceRows,
  );
  const componentTable = markdownTable(
    ["DB write (called directly, no bot)", "concurrent callers", "calls/s", "client CPU ms/call", "Postgres CPU ms/call"],
    components.map((c) => [c.name, String(c.concurrency), fmt(c.callsPerSecond), fmt(c.clientCpuMs, 2), fmt(c.postgresCpuMs, 2)]),
  );
  const verdictTable = markdownTable(["goal", "measured", "verdict"], verdicts.map((v) => [v.goal, v.measured, v.pass ? "PASS" : "MISS"]));
  const json = {
    benchmark: "bench/updates.ts",
    date: new Date().toISOString(),
    machine,
    settings: { rounds: ROUNDS, scale: SCALE, adminUpdates: N_ADMIN, steadyUpdates: N_STEADY, strangerUpdates: N_STRANGER, logLevel: LOG_LEVEL, steadyRate: STEADY_RATE, adminChats: ADMIN_CHATS.length, adminUsers: ADMIN_USERS.length, strangerPairs: STRANGER_PAIRS.length, warmup: N_WARMUP },
    ratios: { adminBurst: admin, flood, floodHandled },
    verdicts,
    runs,
    components,
  };
  const steadyOverlap = bots.map((b) => `${b} ${steadyOf(b).overlapping}`).join(", ");
  const polls = bots.map((b) => `${b} ${burstOf(b).apiCalls.getUpdates}`).join(", ");
  const conn = burstOf("opsgram").connections;
  const notes = [
    ...(conn
      ? [
          `- opsgram's ${fmt(conn.open)} Postgres connections during A burst (pg_stat_activity every 100 ms, mean): ${fmt(conn.waitingForAuditLock, 1)} queued on the audit chain's advisory lock, ${fmt(conn.idleInTransaction, 1)} idle inside a transaction (waiting for the bot to send its next statement), ${fmt(conn.running, 1)} running a statement.`,
        ]
      : []),
    `- B measured to the last update demonstrably handled (bare: its last reply; opsgram: the pino time of its last "denied" log line) instead of to emulator idle: opsgram at ${pct(floodHandledRatio)} of the baseline.`,
    `- A steady: updates sent to a chat before that chat's previous reply (pairing could be inexact if a bot answered out of order): ${steadyOverlap}. 0 means every latency is exact.`,
    `- getUpdates calls during A burst: ${polls}.`,
  ].join("\n");
  return { table, resources, componentTable, verdictTable, json, notes };
}

// ------------------------------------------------------------------ main

/** JSON with one line per top-level key, and one line per element of a top-level array: readable and short. */
function compactJson(value: Record<string, unknown>): string {
  const lines = Object.entries(value).map(([key, v]) =>
    Array.isArray(v) ? `  ${JSON.stringify(key)}: [\n${v.map((item) => `    ${JSON.stringify(item)}`).join(",\n")}\n  ]` : `  ${JSON.stringify(key)}: ${JSON.stringify(v)}`,
  );
  return `{\n${lines.join(",\n")}\n}`;
}

/** The commit the measured opsgram was built from, with "+dirty" when src/ has uncommitted changes. */
function gitDescribe(): string {
  const git = (...gitArgs: string[]) => execFileSync("git", gitArgs, { cwd: resolve(import.meta.dirname, ".."), encoding: "utf8" }).trim();
  try {
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "src") ? "+dirty" : ""}`;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    opsgramCommit: gitDescribe(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    loadAverageAtEnd: [] as number[],
  };
  log(`bench/updates.ts — opsgram ${machine.opsgramCommit}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(" ")}${PROFILE ? " — PROFILING (figures not recorded)" : ""}`);

  const pg = await startPostgres();
  cleanup.add("postgres", () => pg.stop());
  const databaseUrl = pg.createDatabase(`bench_updates_${randomBytes(4).toString("hex")}`);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  cleanup.add("bench db connection", () => sql.end({ timeout: 1 }));
  const pgPid = await postmasterPid(sql);

  // All bots run side by side, idle but for the one being measured, so the figures compared with
  // each other are taken seconds apart, not minutes (the machine is shared; its load drifts).
  log("\nstarting the bots (each with its own emulator) and warming them up");
  const lanes = new Map<BotKind, Lane>();
  for (const kind of ["bare-runner", "opsgram", "bare-sequential"] as const) lanes.set(kind, await startLane(kind, databaseUrl));
  const results = new Map<string, Partial<BotRun>>();
  const resultOf = (kind: BotKind, round: number) => {
    const key = `${kind}:${round}`;
    if (!results.has(key)) results.set(key, { bot: kind, round });
    return results.get(key)!;
  };
  for (let round = 1; round <= ROUNDS; round++) {
    // The baseline first in odd rounds, opsgram first in even ones, so drift does not always favour the same bot.
    // grammY's sequential bot.start() is a secondary reference: measured in the first round only, to keep the run short.
    const order: BotKind[] = round % 2 === 1 ? ["bare-runner", "opsgram"] : ["opsgram", "bare-runner"];
    if (round === 1) order.push("bare-sequential");
    log(`\n[round ${round}/${ROUNDS}]`);
    for (const kind of order) resultOf(kind, round).adminBurst = await measureAdmin(lanes.get(kind)!, N_ADMIN, undefined, sql, pgPid);
    for (const kind of order) resultOf(kind, round).adminSteady = await measureAdmin(lanes.get(kind)!, N_STEADY, STEADY_RATE, sql, pgPid);
    for (const kind of order) resultOf(kind, round).flood = await measureFlood(lanes.get(kind)!, round, sql, pgPid);
  }
  const runs: BotRun[] = [...results.values()].map((r) => ({ ...(r as BotRun), memory: { ...lanes.get(r.bot!)!.memory } }));
  for (const lane of lanes.values()) await lane.stop();

  // Concurrent audit writers must not have forked the chain.
  const handle = await openDatabase({ url: databaseUrl, dataDir: resolve(tmpdir()) });
  const chain = await new PostgresAuditLog(handle.db).verifyChain();
  await handle.close();
  if (!chain.ok) throw new Error(`audit chain broken at id ${chain.brokenAtId}: ${chain.reason}`);

  log("\nDB write ceilings (this process, no bot)");
  const components = await componentCeilings(pg, pgPid);

  machine.loadAverageAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  const { table, resources, componentTable, verdictTable, json, notes } = report(runs, machine, components);
  const seconds = (Date.now() - started) / 1000;
  const goalRate = 0.5 * median(runs.filter((r) => r.bot === BASELINE).map((r) => r.adminBurst.updatesPerSecond));
  const appendCeiling = components.find((c) => c.name === "PostgresAuditLog.append" && c.concurrency === 500)!;
  const opsgramBurst = median(runs.filter((r) => r.bot === "opsgram").map((r) => r.adminBurst.updatesPerSecond));
  const appendAlone = components.find((c) => c.name === "PostgresAuditLog.append" && c.concurrency === 1)!;
  const ceilingNote =
    `The admin goal needs about ${fmt(goalRate)} /help per second here (50% of the baseline). \`PostgresAuditLog.append\` alone reached ${fmt(appendCeiling.callsPerSecond)}/s with 500 concurrent callers (${fmt(appendAlone.callsPerSecond)}/s with one)` +
    (appendCeiling.callsPerSecond < goalRate ? ": by itself a ceiling below the goal." : ", above the goal rate.") +
    ` Inside the bot, /help went at ${fmt(opsgramBurst)}/s.`;
  const section = [
    `opsgram at commit ${machine.opsgramCommit}. Run with \`npx tsx bench/updates.ts\` (${ROUNDS} round${ROUNDS > 1 ? "s: figures are medians, ratios are paired within a round, then the median" : ""}, ${fmt(seconds)} s). Machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node},`,
    `load average ${machine.loadAverageAtStart.join(" ")} at start and ${machine.loadAverageAtEnd.join(" ")} at end: the machine is shared, so absolute figures drift from run to run; the ratios compare bots measured seconds apart.`,
    `Every bot runs as its own Node process (opsgram exactly as \`npm start\`, LOG_LEVEL=${LOG_LEVEL}: the default and what production runs; at info opsgram logs one line per refused stranger update and none per /help) with its own Bot API emulator inside the`,
    `benchmark process, all on 127.0.0.1. All bots are started and warmed up (${N_WARMUP} /help) first and stay idle while another is measured. opsgram writes to a real Postgres 15 (throwaway cluster from test/support/postgres.ts: fsync and synchronous_commit off, so commits cost no disk flush).`,
    "",
    `- **A burst**: ${count(N_ADMIN)} \`/help\` from ${ADMIN_USERS.length} allowlisted users spread over ${ADMIN_CHATS.length} admin groups, enqueued at once; updates/s = ${count(N_ADMIN)} / (first enqueue → last reply recorded by the emulator); latency = enqueue → reply recorded (mostly queueing in a burst), each reply paired with its update per chat in order (1 ms resolution). opsgram audits each /help (hash-chained insert under an advisory lock) and records it in processed_updates.`,
    `- **A steady**: ${count(N_STEADY)} \`/help\` offered at ${STEADY_RATE}/s, for latency when a bot keeps up (a bot that cannot keeps queueing, and its latency shows it).`,
    `- **B flood**: ${count(N_STRANGER)} messages from ${STRANGER_PAIRS.length} strangers (8 private chats, 2 strangers inside an admin group), enqueued at once; updates/s = ${count(N_STRANGER)} / (first enqueue → emulator idle: nothing pending, bot polling again, no call in flight), the same for every bot. opsgram refuses once per chat per minute and audits once per (chat, user) per minute; the bare bot answers every message.`,
    "- Baseline: `bench/bare-bot.mjs`, a bare grammY bot replying with a constant, with opsgram's polling (@grammyjs/runner `run(bot)`) and Bot API client setup (bounded auto-retry); grammY's sequential `bot.start()` is a second reference, measured in round 1 only.",
    "",
    table,
    "",
    verdictTable,
    "",
    notes,
    "",
    resources,
    "",
    "DB writes of the admin path called directly from the benchmark process (no bot, no HTTP), on the same Postgres — each is a ceiling for opsgram's admin throughput:",
    "",
    componentTable,
    "",
    ceilingNote,
    "",
    "<details><summary>raw results (JSON)</summary>",
    "",
    "```json",
    compactJson(json),
    "```",
    "",
    "</details>",
  ].join("\n");

  log(`\n${table}\n\n${verdictTable}\n\n${notes}\n\n${resources}\n\n${componentTable}\n\n${ceilingNote}\n`);
  log(`JSON:\n${JSON.stringify(json)}`);
  if (WRITE_DOCS) {
    replaceSection(resolve(import.meta.dirname, "../docs/BENCHMARKS.md"), "## Update throughput (bench/updates.ts)", section);
    log("\nwritten to docs/BENCHMARKS.md");
  }
  log(`done in ${fmt(seconds)} s`);
}

await runAndExit(main, cleanup, disarm);
