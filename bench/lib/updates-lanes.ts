/** bench/updates.ts: one bot with its own emulator ("lane"), measured scenario by scenario. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type postgres from "postgres";
import { BotApiEmulator } from "../../test/emulator/bot-api-emulator.js";
import { readProfileFrom, renderProfile, summarizeProfile } from "./cpu-profile.js";
import { memoryOf } from "./proc.js";
import { callCounter, cpuMeter, sampleConnections, startBot, type RunningBot } from "./updates-bots.js";
import { adminScenario, floodScenario } from "./updates-scenarios.js";
import {
  BOT_LABEL,
  N_STRANGER,
  N_WARMUP,
  PROFILE,
  SCENARIO_TIMEOUT_MS,
  STRANGER_PAIRS,
  cleanup,
  fmt,
  log,
  sleep,
  strangersOfRound,
  type AdminResult,
  type BotKind,
  type BotRun,
  type FloodResult,
} from "./updates-setup.js";


export async function dbCounts(sql: postgres.Sql): Promise<{ audit: number; processed: number; lastAuditId: number }> {
  const [row] = await sql<{ audit: string; processed: string; last: string | null }[]>`
    SELECT (SELECT count(*) FROM audit_events) AS audit, (SELECT count(*) FROM processed_updates) AS processed,
           (SELECT max(id) FROM audit_events) AS last`;
  return { audit: Number(row!.audit), processed: Number(row!.processed), lastAuditId: Number(row!.last ?? 0) };
}

export async function postmasterPid(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'`;
  // The checkpointer is a direct child of the postmaster: its parent is the server's root process.
  const stat = readFileSync(`/proc/${row!.pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** One bot with its own emulator, kept running for the whole benchmark (idle while others are measured). */
export interface Lane {
  kind: BotKind;
  emulator: BotApiEmulator;
  bot: RunningBot;
  expectText: string;
  profileDir: string | undefined;
  memory: BotRun["memory"];
  stop(): Promise<void>;
}

export async function startLane(kind: BotKind, databaseUrl: string): Promise<Lane> {
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

export async function measureAdmin(lane: Lane, n: number, rate: number | undefined, sql: postgres.Sql, pgPid: number): Promise<AdminResult> {
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

export async function measureFlood(lane: Lane, round: number, sql: postgres.Sql, pgPid: number): Promise<FloodResult> {
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

export function withoutT0<T extends { t0: number }>(value: T): Omit<T, "t0"> {
  const { t0: _t0, ...rest } = value;
  return rest;
}