/** bench/updates.ts: the tables, verdicts and raw JSON written into docs/BENCHMARKS.md. */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { markdownTable } from "./markdown.js";
import type { Memory } from "./proc.js";
import { median } from "./stats.js";
import {
  ADMIN_CHATS,
  ADMIN_USERS,
  BASELINE,
  BOT_LABEL,
  LOG_LEVEL,
  N_ADMIN,
  N_STEADY,
  N_STRANGER,
  N_WARMUP,
  ROUNDS,
  SCALE,
  STEADY_RATE,
  STRANGER_PAIRS,
  count,
  fmt,
  pct,
  type BotKind,
  type BotRun,
  type ComponentResult,
  type Cpu,
} from "./updates-setup.js";


export interface Verdict {
  goal: string;
  measured: string;
  pass: boolean;
}

/** The run of each bot that had the median throughput in each scenario (one round: that run). */
export function medianRun(runs: BotRun[], bot: BotKind, metric: (r: BotRun) => number): BotRun {
  const mine = runs.filter((r) => r.bot === bot).sort((a, b) => metric(a) - metric(b));
  return mine[Math.floor((mine.length - 1) / 2)]!;
}
export function report(runs: BotRun[], machine: Record<string, unknown>, components: ComponentResult[]) {
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
/** JSON with one line per top-level key, and one line per element of a top-level array: readable and short. */
export function compactJson(value: Record<string, unknown>): string {
  const lines = Object.entries(value).map(([key, v]) =>
    Array.isArray(v) ? `  ${JSON.stringify(key)}: [\n${v.map((item) => `    ${JSON.stringify(item)}`).join(",\n")}\n  ]` : `  ${JSON.stringify(key)}: ${JSON.stringify(v)}`,
  );
  return `{\n${lines.join(",\n")}\n}`;
}

/** The commit the measured opsgram was built from, with "+dirty" when src/ has uncommitted changes. */
export function gitDescribe(): string {
  const git = (...gitArgs: string[]) => execFileSync("git", gitArgs, { cwd: resolve(import.meta.dirname, ".."), encoding: "utf8" }).trim();
  try {
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--", "src") ? "+dirty" : ""}`;
  } catch {
    return "unknown";
  }
}

