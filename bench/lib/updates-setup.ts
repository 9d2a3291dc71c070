/**
 * bench/updates.ts, shared part: parameters from the command line, the scenario's chats and users,
 * the result types, and the run's cleanup (armed on import with the run's time limit).
 */
import type { Memory } from "./proc.js";
import type { LatencySummary } from "./stats.js";
import { Cleanup } from "./cleanup.js";
import type { ConnectionSample } from "./updates-bots.js";

// ------------------------------------------------------------------ parameters

export const args = process.argv.slice(2);
export const flag = (name: string) => args.includes(name);
export const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const value = i === -1 ? fallback : Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
};

export const ROUNDS = option("--rounds", 3);
export const STEADY_RATE = option("--rate", 100); // updates/s offered in "A steady"
export const PROFILE = flag("--profile");
/** Shrinks every scenario (e.g. 0.1 while developing); only full-size runs are recorded. */
export const SCALE = option("--scale", 1);
export const WRITE_DOCS = !flag("--no-write") && !PROFILE && SCALE === 1; // profiled figures are slower: never recorded

export const N_WARMUP = 1_000;
export const N_ADMIN = Math.round(5_000 * SCALE);
export const N_STEADY = Math.round(400 * SCALE);
/** Calls per component in the "DB write ceilings" check. */
export const N_COMPONENT = Math.round(1_000 * SCALE);
export const N_STRANGER = Math.round(10_000 * SCALE);
/** The whole run is cut off (and cleaned up) after this, whatever it is doing. */
export const TIME_LIMIT_MS = 60_000 + 200_000 * ROUNDS;
export const SCENARIO_TIMEOUT_MS = 150_000;
/**
 * LOG_LEVEL for opsgram: "info", the default (src/config/env.ts) and what `npm start` runs in
 * production. At info the admin path logs nothing per update, and each refused stranger update logs
 * one "denied" line: that line is part of opsgram's real cost, so it stays in the measurement.
 */
export const LOG_LEVEL = "info";

/**
 * 20 admin groups: enough that in "A steady" a chat sees one /help every 100 ms, so replies — told
 * apart only by chat — are paired with their update exactly (see fifoLatencies).
 */
export const ADMIN_CHATS = Array.from({ length: 20 }, (_, i) => ({ id: -1002000000100 - i, type: "supergroup" as const }));
export const ADMIN_USERS = Array.from({ length: 5 }, (_, i) => ({ id: 7001 + i, username: `oncall${i + 1}` }));
/** An admin group that strangers write in (refused as unknown_user). */
export const INTRUDED_GROUP = { id: -1002000000999, type: "supergroup" as const };
/**
 * 10 (chat, user) pairs: 8 strangers in their private chats, 2 strangers inside an admin group.
 * New people every round, so each round's flood starts with fresh rate windows.
 */
export function strangersOfRound(round: number) {
  const base = 900_000 + round * 1_000;
  return [
    ...Array.from({ length: 8 }, (_, i) => ({ chat: { id: base + 1 + i, type: "private" as const }, user: { id: base + 1 + i } })),
    ...Array.from({ length: 2 }, (_, i) => ({ chat: INTRUDED_GROUP, user: { id: base + 101 + i } })),
  ];
}
export const STRANGER_PAIRS = strangersOfRound(0);

export type BotKind = "opsgram" | "bare-runner" | "bare-sequential";
export const BASELINE: BotKind = "bare-runner";
export const BOT_LABEL: Record<BotKind, string> = {
  opsgram: "opsgram (runner, audit + dedupe on Postgres)",
  "bare-runner": "bare grammY, @grammyjs/runner (baseline)",
  "bare-sequential": "bare grammY, bot.start() (sequential; round 1 only)",
};

// ------------------------------------------------------------------ results

export interface Cpu {
  /** CPU ms per 1,000 updates in the bot process, the Postgres server and the harness (emulator). */
  botMsPerK: number;
  postgresMsPerK: number;
  harnessMsPerK: number;
}

export interface AdminResult {
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

export interface FloodResult {
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

export interface BotRun {
  bot: BotKind;
  round: number;
  adminBurst: AdminResult;
  adminSteady: AdminResult;
  flood: FloodResult;
  memory: { afterWarmup: Memory | undefined; afterAdmin: Memory | undefined; afterFlood: Memory | undefined };
}

// ------------------------------------------------------------------ plumbing

export const cleanup = new Cleanup();
export const disarm = cleanup.armExits(TIME_LIMIT_MS);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (text: string) => process.stdout.write(`${text}\n`);

export async function until(what: string, condition: () => boolean, state?: () => string, timeoutMs = SCENARIO_TIMEOUT_MS, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? ` (${state()})` : ""}`);
    await sleep(everyMs);
  }
}

export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
export const count = (n: number) => n.toLocaleString("en-US");
export const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

export interface ComponentResult {
  name: string;
  concurrency: number;
  calls: number;
  callsPerSecond: number;
  /** CPU of this process (the caller: drizzle + postgres.js) per call, ms. */
  clientCpuMs: number;
  postgresCpuMs: number;
}
