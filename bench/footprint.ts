/**
 * Footprint and start-up (issue 14): what opsgram costs a small VPS, next to a bare grammY bot
 * with @grammyjs/runner in the same run.
 *
 *   npx tsx bench/footprint.ts              # measure, print, update docs/BENCHMARKS.md
 *   npx tsx bench/footprint.ts --no-write   # do not touch docs/BENCHMARKS.md
 *   npx tsx bench/footprint.ts --no-sandbox # skip the 1/5/20-target figures (no dockerd/sshd)
 *
 * Every bot is a child process run as a user runs it (opsgram: `node dist/main.js`, as `npm
 * start`; baseline: `node bench/bare-bot.mjs`), one at a time, against one Bot API emulator in
 * this process. Memory is read from /proc over the bot's whole process tree (the embedded
 * Postgres server and its backends included) 5 s after the first answer: RSS summed (shared
 * pages counted once per process) and PSS summed (shared pages split: what the tree occupies).
 * Measured: first start on an empty DATA_DIR, warm start to the first answer, idle memory, the
 * sequential /help round trip (also with Postgres 5 ms away through a delaying TCP proxy), idle
 * memory with 1, 5 and 20 targets on the sandbox VPS, and memory after 10,000 updates vs idle,
 * both right after a full GC.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import postgres from "postgres";
import { BotApiEmulator } from "../test/emulator/bot-api-emulator.js";
import { startPostgres } from "../test/support/postgres.js";
import { startSandbox } from "../test/sandbox/index.js";
import { ensureBuilt } from "../test/support/bot-process.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { startDelayProxy } from "./lib/delay-proxy.js";
import { ADMIN, ADMIN_CHAT, helpBurst, sleep, startBareBot, startOpsgram, writeTargetsConfig, type RunningBot } from "./lib/footprint-bots.js";
import { renderFootprint, type FootprintResults } from "./lib/footprint-report.js";
import { replaceSection } from "./lib/markdown.js";
import { summarize } from "./lib/stats.js";
import type { TreeMemory } from "./lib/proc-tree.js";
import { startScriptProcess } from "./lib/script-process.js";

const args = process.argv.slice(2);
const WRITE_DOCS = !args.includes("--no-write");
const WITH_SANDBOX = !args.includes("--no-sandbox");
const IDLE_SETTLE_MS = 5_000;
/** A second idle reading for the embedded default, once start-up garbage is long collected. */
const IDLE_LONG_MS = 30_000;
const ROUND_TRIPS = 100;
const N_UPDATES = 10_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

const cleanup = new Cleanup();
const disarm = cleanup.armExits(15 * 60_000);

async function idleMemory(bot: RunningBot): Promise<TreeMemory> {
  await sleep(IDLE_SETTLE_MS); // what a box sees between commands, not the start-up peak
  return bot.memory();
}

/** `n` /help one at a time: enqueue → answer recorded by the emulator, ms. */
async function roundTrips(emulator: BotApiEmulator, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    const before = emulator.messages.length;
    const t0 = Date.now();
    emulator.sendCommand(ADMIN_CHAT, ADMIN, "/help");
    const m = await emulator.waitForMessage((x) => x.index >= before && x.chatId === ADMIN_CHAT.id, 10_000);
    if (i >= 10) samples.push(m.sentAt.getTime() - t0); // the first 10 warm up connections and JIT
  }
  return samples;
}

async function main(): Promise<void> {
  const started = Date.now();
  ensureBuilt();
  const scratch = mkdtempSync(join(tmpdir(), "opsgram-footprint-"));
  chmodSync(scratch, 0o755); // as root, the embedded server's user must be able to enter DATA_DIR's parents
  cleanup.add("scratch", () => rmSync(scratch, { recursive: true, force: true }));
  const noConfig = join(scratch, "no-opsgram.yml");
  const emulator = await BotApiEmulator.start();
  cleanup.add("emulator", () => emulator.stop());
  const pg = await startPostgres();
  cleanup.add("postgres", () => pg.stop());
  const r: Partial<FootprintResults> = {
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? "?",
      node: process.version,
      commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(),
      loadAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    },
  };
  const opts = { emulator, cleanup };

  const progress = () => log(`  so far: ${JSON.stringify(r, (k, v) => (k === "processes" ? undefined : v))}`);
  log("bare runner bot: start, idle memory, round trip");
  let bot = await startBareBot(opts);
  r.bare = { firstAnswerMs: bot.firstAnswerMs, idle: await idleMemory(bot), roundTrip: summarize(await roundTrips(emulator, ROUND_TRIPS)) };
  await bot.stop();

  progress();
  log("bare sequential bot: round trip");
  {
    const proc = startScriptProcess("bench/bare-bot.mjs", { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, BARE_POLLING: "sequential" });
    const stop = cleanup.add("bare sequential bot", () => proc.stop());
    await proc.waitForLog((l) => l.msg === "bare bot started");
    r.bareSequentialRoundTrip = summarize(await roundTrips(emulator, ROUND_TRIPS));
    await stop();
  }

  progress();
  log("opsgram, external Postgres: first start (migrations), then a warm start");
  const dataDirPg = join(scratch, "data-pg");
  const databaseUrl = pg.createDatabase("footprint");
  bot = await startOpsgram({ dataDir: dataDirPg, databaseUrl, configPath: noConfig }, opts);
  const pgFirst = bot.firstAnswerMs;
  await bot.stop();
  bot = await startOpsgram({ dataDir: dataDirPg, databaseUrl, configPath: noConfig }, opts);
  r.postgres = { firstStartMs: pgFirst, firstAnswerMs: bot.firstAnswerMs, idle: await idleMemory(bot), roundTrip: summarize(await roundTrips(emulator, ROUND_TRIPS)) };
  await bot.stop();

  progress();
  log("opsgram, Postgres 5 ms away (delaying proxy): round trip");
  {
    const url = new URL(databaseUrl);
    const proxy = await startDelayProxy(url.hostname, Number(url.port), 2.5);
    const closeProxy = cleanup.add("delay proxy", () => proxy.close());
    url.port = String(proxy.port);
    // What the proxy really adds, as a client sees it: `select 1` on one open connection.
    const probe = postgres(url.toString(), { max: 1, onnotice: () => {} });
    const selects: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      await probe`select 1`;
      if (i >= 10) selects.push(performance.now() - t0);
    }
    await probe.end({ timeout: 1 });
    bot = await startOpsgram({ dataDir: dataDirPg, databaseUrl: url.toString(), configPath: noConfig }, opts);
    r.remotePostgres = { rttMs: 5, selectOneMs: summarize(selects), firstAnswerMs: bot.firstAnswerMs, roundTrip: summarize(await roundTrips(emulator, ROUND_TRIPS)) };
    await bot.stop();
    await closeProxy();
  }

  progress();
  log("opsgram, embedded Postgres: first start on an empty DATA_DIR, then a warm start");
  const dataDirEmbedded = join(scratch, "data-embedded");
  bot = await startOpsgram({ dataDir: dataDirEmbedded, configPath: noConfig }, opts);
  const firstLine = bot.proc.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("first start:"), 1).then(
    (l) => String(l.msg),
    () => "(missing)",
  );
  const embeddedFirst = { firstAnswerMs: bot.firstAnswerMs, logLine: await firstLine, idle: await idleMemory(bot) };
  await bot.stop();
  bot = await startOpsgram({ dataDir: dataDirEmbedded, configPath: noConfig }, opts);
  const embeddedWarm = { firstAnswerMs: bot.firstAnswerMs, idle: await idleMemory(bot) };
  await sleep(IDLE_LONG_MS - IDLE_SETTLE_MS);
  const idleLong = bot.memory();
  r.embedded = { first: embeddedFirst, ...embeddedWarm, idleLong, roundTrip: summarize(await roundTrips(emulator, ROUND_TRIPS)) };
  await bot.stop();

  progress();
  log(`opsgram, external Postgres: memory after ${N_UPDATES} updates vs idle, after a full GC`);
  {
    bot = await startOpsgram({ dataDir: dataDirPg, databaseUrl, configPath: noConfig }, { ...opts, gc: true });
    await sleep(IDLE_SETTLE_MS);
    const heapIdle = await bot.gc();
    const idle = bot.memory();
    const burstMs = await helpBurst(emulator, N_UPDATES, 300_000);
    await sleep(2_000);
    const heapAfter = await bot.gc();
    const after = bot.memory();
    await sleep(20_000); // the allocator hands freed pages back lazily
    const heapLater = await bot.gc();
    const later = bot.memory();
    r.afterUpdates = { updates: N_UPDATES, burstMs, idle, after, later, heapMiB: { idle: heapIdle, after: heapAfter, later: heapLater } };
    await bot.stop();
  }

  progress();
  if (WITH_SANDBOX) {
    log("sandbox VPS: idle memory with 1, 5, 20 targets");
    const sandbox = await startSandbox({ postgresUrl: pg.url });
    cleanup.add("sandbox", () => sandbox.stop());
    const target = () => ({
      host: `ssh://${sandbox.ssh.username}@${sandbox.ssh.host}:${sandbox.ssh.port}`,
      ssh: { privateKeyPath: sandbox.ssh.privateKeyPath, knownHostsPath: sandbox.ssh.knownHostsPath },
      appDir: sandbox.appDir,
      dockerSocket: sandbox.dockerSocket,
      compose: { command: sandbox.composeCommand, project: sandbox.composeProject },
      services: { web: { min: 1, max: 1 }, worker: { min: 1, max: 3 } },
      health: { http: [{ name: "web", url: `http://127.0.0.1:${sandbox.webPort}/health` }] },
    });
    r.targets = [];
    // Partial results survive a failure here: the figures above are already in `r`.
    for (const n of [1, 5, 20]) {
      const configPath = writeTargetsConfig(join(scratch, `opsgram-${n}.yml`), n, target);
      bot = await startOpsgram({ dataDir: dataDirPg, databaseUrl, configPath }, opts, `opsgram with ${n} targets`);
      await sleep(20_000); // monitors connect, first HTTP checks and re-lists run
      r.targets.push({ targets: n, firstAnswerMs: bot.firstAnswerMs, idle: bot.memory() });
      log(`  ${n} targets: RSS ${r.targets.at(-1)!.idle.rssMiB.toFixed(0)} MiB`);
      await bot.stop();
    }
  }

  r.machine!.loadAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  r.seconds = Math.round((Date.now() - started) / 1000);
  const results = r as FootprintResults;
  const section = renderFootprint(results);
  process.stdout.write(`${section}\n`);
  if (WRITE_DOCS) replaceSection("docs/BENCHMARKS.md", "## Footprint and start (bench/footprint.ts)", section);
}

await runAndExit(main, cleanup, disarm);
