/** bench/updates.ts: starting the bots, and meters read around each scenario. */
import { resolve } from "node:path";
import type postgres from "postgres";
import type { BotApiEmulator } from "../../test/emulator/bot-api-emulator.js";
import { startBotProcess } from "../../test/support/bot-process.js";
import { cpuMsOf, treeCpuMsOf } from "./proc.js";
import { startScriptProcess } from "./script-process.js";
import { ADMIN_CHATS, ADMIN_USERS, INTRUDED_GROUP, LOG_LEVEL, cleanup, sleep, type BotKind, type Cpu } from "./updates-setup.js";

export interface RunningBot {
  pid: number;
  /** opsgram only: how many "denied" log lines so far, and the pino `time` of the latest. */
  denied?: () => { count: number; lastAt: number };
  /** Error and fatal log lines so far (opsgram only), to explain failed replies. */
  errors?: () => Record<string, unknown>[];
  /** The end of what the process printed, for error messages. */
  outputTail(): string;
  stop(): Promise<void>;
}

export async function startBot(kind: BotKind, emulator: BotApiEmulator, databaseUrl: string, profileDir: string | undefined): Promise<RunningBot> {
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

export interface ConnectionSample {
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
export function sampleConnections(sql: postgres.Sql): () => Promise<ConnectionSample> {
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
export function callCounter(emulator: BotApiEmulator): () => { getUpdates: number; other: number } {
  const first = emulator.calls.length;
  return () => {
    const calls = emulator.calls.slice(first);
    const getUpdates = calls.filter((c) => c.method.toLowerCase() === "getupdates").length;
    return { getUpdates, other: calls.length - getUpdates };
  };
}

/** CPU meters for one scenario. */
/** What the emulator saw, for timeout messages. */
export function emulatorState(emulator: BotApiEmulator, firstReply: number): string {
  const recent = emulator.calls.filter((c) => c.method !== "getUpdates").slice(-3).map((c) => `${c.method} → ${JSON.stringify(c.response).slice(0, 160)}`);
  return `replies so far ${emulator.messages.length - firstReply}, pending updates ${emulator.pendingUpdates}, calls ${emulator.calls.length}; last calls: ${recent.join(" | ")}`;
}

export function cpuMeter(botPid: number, postgresPid: number) {
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