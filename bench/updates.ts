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
 * Bots: opsgram (`node dist/main.js`, as `npm start`), the bare bot with @grammyjs/runner (the named
 * baseline: same polling as opsgram), and the bare bot with grammY's sequential `bot.start()`
 * (round 1 only). The whole run is bounded: fixed counts, a timeout per wait, a time limit overall,
 * and everything it started is stopped on success, failure, Ctrl-C or SIGTERM.
 *
 * The parts live in bench/lib/updates-*.ts: setup (parameters, types), bots, scenarios, lanes, report.
 */
import { loadavg, cpus, tmpdir } from "node:os";
import { resolve } from "node:path";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { startPostgres } from "../test/support/postgres.js";
import { openDatabase } from "../src/infra/db/client.js";
import { PostgresAuditLog } from "../src/infra/db/audit-log.js";
import { runAndExit } from "./lib/cleanup.js";
import { median } from "./lib/stats.js";
import { replaceSection } from "./lib/markdown.js";
import { measureAdmin, measureFlood, postmasterPid, startLane, type Lane } from "./lib/updates-lanes.js";
import { compactJson, gitDescribe, report } from "./lib/updates-report.js";
import { componentCeilings } from "./lib/updates-scenarios.js";
import {
  ADMIN_CHATS,
  ADMIN_USERS,
  BASELINE,
  LOG_LEVEL,
  N_ADMIN,
  N_STEADY,
  N_STRANGER,
  N_WARMUP,
  PROFILE,
  ROUNDS,
  STEADY_RATE,
  STRANGER_PAIRS,
  WRITE_DOCS,
  cleanup,
  count,
  disarm,
  fmt,
  log,
  type BotKind,
  type BotRun,
} from "./lib/updates-setup.js";

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