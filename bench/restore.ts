/**
 * Restore benchmark (issue 9): opsgram's /restore of the ~1 GB app database against
 * `ssh host 'pg_restore --clean --if-exists … < file'` in the same run.
 *
 *   npx tsx bench/restore.ts                 # 1 GB, 3 trials per contender
 *   npx tsx bench/restore.ts --gb 0.2 --trials 3
 *
 * Setup: the sandbox VPS (pinned sshd, app Postgres) on 127.0.0.1, the app database grown as in
 * bench/backup.ts, one verified backup taken by opsgram. Contenders, alternating:
 *   - opsgram: the /restore request after the typed name (operations layer, same path the chat
 *     flow calls) → run ended. It re-verifies the file, takes a verified safety backup of the
 *     current database, runs `( backup.restore ) < file` on the target, then the health gate.
 *     Reported twice: the whole run, and its `restore` step alone.
 *   - baseline: `ssh host 'pg_restore --clean --if-exists --no-owner -d <url> < file'`.
 * Goal (issue 9): opsgram ≤ 1.05 × baseline. The safety backup is a full pg_dump and the check is
 * a full read of the archive: the whole run cannot meet that goal by design; the restore step can.
 */
import { loadavg } from "node:os";
import { quoteArg } from "../src/commands/quote.js";
import type { RestoreService } from "../src/operations/index.js";
import { Cleanup, runAndExit } from "./lib/cleanup.js";
import { generateDataset } from "./lib/vps-dataset.js";
import { ADMIN_GROUP, ONCALL, startVpsHarness } from "./lib/vps-harness.js";
import { describeMachine, fmtMs, machineInfo, medianOf, round, runScript, sshCommand, writeScript } from "./lib/vps-measure.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const TRIALS = Math.max(1, Math.round(option("--trials", 3)));
const TARGET_BYTES = option("--gb", 1) * 1e9;
const cleanup = new Cleanup();
const disarm = cleanup.armExits(3_600_000);
const log = (line: string) => process.stdout.write(`${line}\n`);
const actor = { chatId: ADMIN_GROUP.id, userId: ONCALL.id, username: ONCALL.username };

async function main(): Promise<void> {
  log(describeMachine("bench/restore.ts", machineInfo()));
  const h = await startVpsHarness(cleanup, { backupKeep: 100, restore: true });
  const dataset = await generateDataset(h.sandbox.appPostgresUrl, { targetBytes: TARGET_BYTES, insertBudgetMs: 100_000, log });
  log(`  database ${(dataset.databaseBytes / 1e9).toFixed(2)} GB, ${dataset.rows.toLocaleString("en-US")} rows`);

  const taken = await h.ops.service.backup(actor, { target: "prod", input: [] });
  if (taken.status !== "started") throw new Error(JSON.stringify(taken));
  if ((await taken.done).status !== "succeeded") throw new Error("the backup failed");
  const backup = (await h.repos.backups.recent("prod", 1))[0]!;
  log(`  backup ${backup.path} · ${(backup.sizeBytes! / 1e6).toFixed(0)} MB · ${backup.verification}`);
  const url = h.sandbox.appPostgresUrl;
  const script = writeScript(h.scratch, "restore-baseline.sh", `${sshCommand(h.sandbox)} ${quoteArg(`${h.sandbox.pgBinDir}/pg_restore --clean --if-exists --no-owner -d ${quoteArg(url)} < ${quoteArg(backup.path!)}`)}`);
  const restore: RestoreService = h.ops.restore;

  const rows: { trial: number; opsgramMs: number; restoreStepMs: number; baselineMs: number; load: number }[] = [];
  for (let t = 1; t <= TRIALS; t++) {
    const load = round(loadavg()[0]!, 2);
    let opsgramMs = 0;
    let restoreStepMs = 0;
    let baselineMs = 0;
    const runOpsgram = async () => {
      const started = Date.now();
      const r = await restore.request(actor, { target: "prod", input: [], backupId: backup.id, typed: "prod" });
      if (r.status !== "started") throw new Error(JSON.stringify(r));
      const done = await r.done;
      opsgramMs = Date.now() - started;
      if (done.status !== "succeeded") throw new Error(`restore failed: ${JSON.stringify(done.result)}`);
      const steps = (done.result as { steps?: { id: string; durationMs: number }[] } | null)?.steps ?? [];
      restoreStepMs = steps.find((s) => s.id === "restore")?.durationMs ?? Number.NaN;
    };
    const runBaseline = async () => {
      baselineMs = (await runScript(script, [], { timeoutMs: 1_800_000 })).ms;
    };
    if (t % 2 === 1) {
      await runBaseline();
      await runOpsgram();
    } else {
      await runOpsgram();
      await runBaseline();
    }
    rows.push({ trial: t, opsgramMs, restoreStepMs, baselineMs, load });
    log(`  trial ${t}: opsgram ${fmtMs(opsgramMs)} (restore step ${fmtMs(restoreStepMs)}), baseline ${fmtMs(baselineMs)}, load ${load}`);
  }
  const med = (k: "opsgramMs" | "restoreStepMs" | "baselineMs") => medianOf(rows.map((r) => r[k]));
  log("");
  log(`whole-process timing, ${TRIALS} runs, median: opsgram /restore ${fmtMs(med("opsgramMs"))} · its restore step ${fmtMs(med("restoreStepMs"))} · baseline ${fmtMs(med("baselineMs"))}`);
  log(`ratio whole run ${(med("opsgramMs") / med("baselineMs")).toFixed(2)} · restore step ${(med("restoreStepMs") / med("baselineMs")).toFixed(2)} (goal ≤ 1.05)`);
}

void runAndExit(main, cleanup, disarm);
