/**
 * Where the time goes in one /help round trip, for the bare grammY bot polling with
 * @grammyjs/runner and with grammY's sequential `bot.start()` (bench/bare-bot.mjs), against the
 * Bot API emulator on loopback:
 *
 *   npx tsx bench/runner-cadence.ts [--n 60]
 *
 * Each polling mode runs twice: commands back to back, and 100 ms apart (the bot idle in a long
 * poll when the command arrives, as when a person types).
 *
 * Question it answers: does @grammyjs/runner add latency over sequential polling? (Its update
 * source pauses between getUpdates calls only when `speedTrafficBalance` > 0; the default is 0.)
 */
import { BotApiEmulator } from "../test/emulator/bot-api-emulator.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { startScriptProcess } from "./lib/script-process.js";
import { summarize } from "./lib/stats.js";

const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--n") + 1] ?? 60) || 60;
const cleanup = new Cleanup();
const disarm = cleanup.armExits(5 * 60_000);
const CHAT = { id: 7001, type: "private" as const };
const USER = { id: 7001, username: "oncall" };

async function measure(polling: "runner" | "sequential", gapMs: number) {
  const emulator = await BotApiEmulator.start();
  const stopEmulator = cleanup.add("emulator", () => emulator.stop());
  const bot = startScriptProcess("bench/bare-bot.mjs", { TELEGRAM_BOT_TOKEN: emulator.token, TELEGRAM_API_ROOT: emulator.apiRoot, BARE_POLLING: polling });
  const stopBot = cleanup.add("bot", () => bot.stop());
  await bot.waitForLog((l) => l.msg === "bare bot started");
  const total: number[] = [];
  for (let i = 0; i < N + 10; i++) {
    // With a gap the bot sits in an idle long poll when the command comes, as with a human typing.
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const before = emulator.messages.length;
    const t0 = Date.now();
    emulator.sendCommand(CHAT, USER, "/help");
    const reply = await emulator.waitForMessage((m) => m.index >= before, 10_000);
    if (i >= 10) total.push(reply.sentAt.getTime() - t0); // the first 10 warm up
  }
  await stopBot();
  await stopEmulator();
  return { polling, gapMs, total: summarize(total) };
}

async function main() {
  const results = [];
  for (const gapMs of [0, 100]) for (const polling of ["sequential", "runner"] as const) results.push(await measure(polling, gapMs));
  for (const r of results) {
    process.stdout.write(
      `${r.polling.padEnd(10)} gap ${String(r.gapMs).padStart(3)} ms: round trip p50 ${r.total.p50} ms (p90 ${r.total.p90})\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

await runAndExit(main, cleanup, disarm);
