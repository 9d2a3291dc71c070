/**
 * Leader takeover benchmark (issue 11, "one leader"): two opsgram processes (`src/main.ts`, as
 * `npm start` runs it) on one token and one Postgres; the leader is SIGKILLed and the standby must
 * lead and answer within 15 s.
 *
 *   npx tsx bench/takeover.ts              # 5 trials; markdown on stdout, also written to docs/RELIABILITY.md
 *   npx tsx bench/takeover.ts --trials 3 --no-write
 *
 * Per trial: start A, wait for "opsgram started"; start B, wait for its "standby: …" line; t0 just
 * before SIGKILL of A; then /help is sent. Timed: t0 → B logs "opsgram started" (takes over), and
 * t0 → B's /help answer reaches the Bot API emulator.
 * Baseline (measured in the same run): a cold start — spawn → "opsgram started" of process A — which
 * is the least a supervisor restart of a single instance (systemd, `restart: unless-stopped`) costs
 * before the bot answers again.
 */
import { cpus, loadavg } from "node:os";
import { BotApiEmulator } from "../test/emulator/bot-api-emulator.js";
import { startBotProcess, type BotProcess } from "../test/support/bot-process.js";
import { startPostgres } from "../test/support/postgres.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { markdownTable, rawJsonDetails, replaceSection } from "./lib/markdown.js";
import { median } from "./lib/stats.js";

const args = process.argv.slice(2);
const trialsArg = args.indexOf("--trials");
const TRIALS = trialsArg === -1 ? 5 : Number(args[trialsArg + 1]);
const GOAL_MS = 15_000;
const CHAT = { id: -1009101, type: "supergroup" as const, title: "ops" };
const ADMIN = { id: 9101, username: "oncall" };

const note = (msg: string) => process.stderr.write(`bench/takeover: ${msg}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const cleanup = new Cleanup();
const disarm = cleanup.armExits(20 * 60_000);

await runAndExit(
  async () => {
    note("starting Postgres and the Bot API emulator");
    const postgres = await startPostgres();
    cleanup.add("postgres", () => postgres.stop());
    const emulator = await BotApiEmulator.start();
    cleanup.add("emulator", () => emulator.stop());
    const loads: number[] = [];
    const trials: { coldStartMs: number; takeOverMs: number; answerMs: number }[] = [];

    for (let i = 0; i < TRIALS; i++) {
      const url = postgres.createDatabase(`takeover_${i}`);
      const env = {
        TELEGRAM_BOT_TOKEN: emulator.token,
        TELEGRAM_API_ROOT: emulator.apiRoot,
        ADMIN_CHAT_IDS: String(CHAT.id),
        DATABASE_URL: url,
        LOG_LEVEL: "info",
      };
      const started: BotProcess[] = [];
      const stopAll = cleanup.add(`bots of trial ${i}`, () => Promise.all(started.map((b) => b.stop())));
      const spawnedAt = Date.now();
      const a = startBotProcess({ env });
      started.push(a);
      await a.waitForLog((l) => l.msg === "opsgram started", 120_000);
      const coldStartMs = Date.now() - spawnedAt;
      const b = startBotProcess({ env });
      started.push(b);
      await b.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"), 120_000);
      loads.push(loadavg()[0]!);

      const before = emulator.messages.length;
      const t0 = Date.now();
      await a.kill();
      emulator.sendCommand(CHAT, ADMIN, "/help");
      const lead = b.waitForLog((l) => l.msg === "opsgram started", GOAL_MS * 2).then(() => Date.now() - t0);
      const answer = emulator
        .waitForMessage((m) => m.index >= before && m.chatId === CHAT.id && m.text.includes("/whoami"), GOAL_MS * 2)
        .then(() => Date.now() - t0);
      const [takeOverMs, answerMs] = await Promise.all([lead, answer]);
      trials.push({ coldStartMs, takeOverMs, answerMs });
      note(`trial ${i + 1}/${TRIALS}: cold start ${secs(coldStartMs)}, takeover ${secs(takeOverMs)}, answered ${secs(answerMs)}`);
      await stopAll();
      await emulator.waitUntilIdle().catch(() => {});
    }

    const col = (k: keyof (typeof trials)[number]) => trials.map((t) => t[k]);
    const summary = (k: keyof (typeof trials)[number]) => {
      const v = col(k);
      return { median: median(v), min: Math.min(...v), max: Math.max(...v) };
    };
    const result = {
      trials: TRIALS,
      takeOverMs: summary("takeOverMs"),
      answerMs: summary("answerMs"),
      coldStartBaselineMs: summary("coldStartMs"),
      goal: { maxMs: GOAL_MS, met: Math.max(...col("answerMs")) < GOAL_MS },
      machine: { cores: cpus().length, node: process.version, load1m: { min: Math.min(...loads), max: Math.max(...loads) } },
      raw: trials,
    };
    const row = (name: string, s: { median: number; min: number; max: number }) => [name, secs(s.median), secs(s.min), secs(s.max)];
    const section = [
      "## Leader takeover (bench/takeover.ts)",
      "",
      `Two opsgram processes on one token and one Postgres; the leader is SIGKILLed, /help is sent at once. ${TRIALS} trials,`,
      `whole-process timing, median. Goal: answered within 15 s — ${result.goal.met ? "**met**" : "**not met**"}.`,
      "",
      markdownTable(
        ["measure", "median", "min", "max"],
        [
          row("SIGKILL → standby leads", result.takeOverMs),
          row("SIGKILL → /help answered by the new leader", result.answerMs),
          row("baseline: cold start of one process (least a supervisor restart costs)", result.coldStartBaselineMs),
        ],
      ),
      "",
      `Machine: ${result.machine.cores} cores, Node ${result.machine.node}, 1-min load ${result.machine.load1m.min.toFixed(1)}–${result.machine.load1m.max.toFixed(1)}.`,
      "",
      ...rawJsonDetails(result),
    ].join("\n");
    process.stdout.write(`${section}\n`);
    if (!args.includes("--no-write")) {
      const [heading, ...body] = section.split("\n");
      replaceSection("docs/RELIABILITY.md", heading!, body.join("\n"));
    }
  },
  cleanup,
  disarm,
);
