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
 * For each round trip the emulator's call log gives: enqueue → the getUpdates that carried the
 * update arrived (t_poll; a parked long poll is answered at once), → the sendMessage request
 * arrived (t_send). Printed as p50 per segment, so a delay shows where it sits: before the bot
 * gets the update (polling cadence) or between getting it and answering (handling).
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
  const toPoll: number[] = [];
  const toSend: number[] = [];
  for (let i = 0; i < N + 10; i++) {
    // With a gap the bot sits in an idle long poll when the command comes, as with a human typing.
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const firstCall = emulator.calls.length;
    const before = emulator.messages.length;
    const t0 = Date.now();
    const update = emulator.sendCommand(CHAT, USER, "/help");
    const reply = await emulator.waitForMessage((m) => m.index >= before, 10_000);
    if (i < 10) continue;
    const calls = emulator.calls.slice(firstCall > 0 ? firstCall - 1 : 0);
    const poll = calls.find((c) => c.method === "getUpdates" && (c.response as { result?: { update_id: number }[] } | undefined)?.result?.some((u) => u.update_id === update.update_id));
    const send = calls.find((c) => c.method === "sendMessage");
    total.push(reply.sentAt.getTime() - t0);
    // A long poll parked before the enqueue is answered at the enqueue: its arrival is earlier.
    if (poll) toPoll.push(Math.max(0, poll.at.getTime() - t0));
    if (send) toSend.push(send.at.getTime() - t0);
  }
  await stopBot();
  await stopEmulator();
  return { polling, gapMs, total: summarize(total), pollArrivedAfterEnqueue: summarize(toPoll), sendArrivedAfterEnqueue: summarize(toSend) };
}

async function main() {
  const results = [];
  for (const gapMs of [0, 100]) for (const polling of ["sequential", "runner"] as const) results.push(await measure(polling, gapMs));
  for (const r of results) {
    process.stdout.write(
      `${r.polling.padEnd(10)} gap ${String(r.gapMs).padStart(3)} ms: round trip p50 ${r.total.p50} ms (p90 ${r.total.p90}); getUpdates with the update arrived +${r.pollArrivedAfterEnqueue.p50} ms; sendMessage arrived +${r.sendArrivedAfterEnqueue.p50} ms\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

await runAndExit(main, cleanup, disarm);
