/**
 * `/run` latency: a read-only runbook command (a count in the app's Postgres) through the whole bot
 * path, against the same query typed as one OpenSSH command, in the same run on the sandbox VPS.
 *
 *   npx tsx bench/run-command.ts [--n 20]
 *
 * What is timed:
 *   - opsgram: `/run payouts_count` enqueued at the Bot API emulator → the reply with the output
 *     recorded by the emulator (guards, audit rows on Postgres before and after, the pinned ssh2
 *     connection kept open, redaction, rendering).
 *   - baseline: `ssh <pinned> host 'cd <app> && psql … -tAc "select count(*) from payouts"'`, a new
 *     OpenSSH connection per run, as a script or an operator's terminal makes it.
 * Iterations alternate between the two so load from other work hits both alike; one untimed warm-up each.
 */
import { quoteArg } from "../src/commands/quote.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { ADMIN_GROUP, TARGET, startVpsHarness } from "./lib/vps-harness.js";
import { describeMachine, fmtLoad, fmtMs, machineInfo, percentiles, runScript, sampleLoad, sshCommand, writeScript } from "./lib/vps-measure.js";

const args = process.argv.slice(2);
const at = args.indexOf("--n");
const N = at === -1 ? 20 : Number(args[at + 1]);
if (!Number.isInteger(N) || N < 1 || N > 500) throw new Error("--n needs a positive integer");

const cleanup = new Cleanup();
const disarm = cleanup.armExits(600_000);
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const machine = machineInfo();
  log(describeMachine("bench/run-command.ts", machine));
  const h = await startVpsHarness(cleanup);
  const command = h.config.targets[TARGET]!.commands.payouts_count!;
  const script = writeScript(h.scratch, "run-baseline.sh", `${sshCommand(h.sandbox)} ${quoteArg(`cd ${quoteArg(h.sandbox.appDir)} && ${command.run}`)}\n`);

  const viaBot = async (): Promise<number> => {
    const sentAt = h.command("/run payouts_count");
    const reply = await h.waitForMessage((m) => m.chatId === ADMIN_GROUP.id && /payouts_count on prod: exit 0/.test(m.text), 15_000);
    if (!/<pre>\d+<\/pre>|\n\d+$/.test(reply.text)) throw new Error(`no count in the reply:\n${reply.text}`);
    return reply.sentAt.getTime() - sentAt;
  };
  const viaBaseline = async (): Promise<number> => {
    const run = await runScript(script, [], { timeoutMs: 30_000 });
    if (!/^\d+\s*$/.test(run.stdout)) throw new Error(`baseline output is not a count: ${run.stdout}`);
    return run.ms;
  };

  await viaBot();
  await viaBaseline();
  const bot: number[] = [];
  const baseline: number[] = [];
  const load = sampleLoad();
  for (let i = 0; i < N; i++) {
    if (i % 2 === 0) {
      bot.push(await viaBot());
      baseline.push(await viaBaseline());
    } else {
      baseline.push(await viaBaseline());
      bot.push(await viaBot());
    }
  }
  const loadDuring = load.stop();
  const b = percentiles(bot);
  const s = percentiles(baseline);
  log(`/run payouts_count, full bot path: p50 ${fmtMs(b.p50)}, p95 ${fmtMs(b.p95)} (${N} runs)`);
  log(`baseline ssh one-liner:             p50 ${fmtMs(s.p50)}, p95 ${fmtMs(s.p95)} (${N} runs)`);
  log(`ratio of medians: ${(b.p50 / s.p50).toFixed(2)} · load average (1 min): ${fmtLoad(loadDuring)} on ${machine.cores} cores`);
}

await runAndExit(main, cleanup, disarm);
