import { formatBytes } from "../shared/format.js";
import {
  assertAbsent,
  backupPath,
  dumpLine,
  fileSize,
  gzipTest,
  headBytes,
  mkdirP,
  moveInto,
  partialPath,
  pgRestoreList,
  removeFile,
  testNonEmpty,
  type BackupFormat,
} from "../commands/backup.js";
import { defineOperation, type OperationsDeps, type PlanOutcome, type RunContext, type TargetHandle } from "./context.js";
import type { BackupRecord } from "./model.js";
import { StepFailedError } from "./errors.js";
import type { StepIO } from "./steps.js";

export interface BackupPlanData {
  dir: string;
  format: BackupFormat;
  keep: number;
}

/** What one backup left on the target. */
export interface BackupTaken {
  path: string;
  sizeBytes: number;
  durationMs: number;
  /** How it was verified: "pg_restore --list: 42 entries", "gzip -t", "non-empty". */
  verified: string;
}

/** `/backup`: the plan is just where it goes — it changes nothing, so it needs no confirmation. */
export function planBackup(target: TargetHandle): PlanOutcome<BackupPlanData> {
  const backup = target.config.backup;
  if (!backup) return { status: "refused", reason: `No backup is configured for ${target.name} (backup.command and backup.dir in opsgram.yml).` };
  return {
    status: "planned",
    plan: {
      title: `💾 Backup ${target.name}`,
      lockReason: "backup",
      data: { dir: backup.dir, format: backup.format, keep: backup.keep },
    },
  };
}

/**
 * Dumps into `<path>.partial` on the target, verifies it, and only then moves it into place: a
 * failed or half-written dump never looks like a backup. No byte passes through the bot.
 */
export async function dumpAndVerify(io: StepIO, target: TargetHandle, deps: OperationsDeps): Promise<BackupTaken> {
  const backup = target.config.backup;
  if (!backup) throw new Error(`no backup configured for ${target.name}`);
  const started = deps.clock.now();
  const path = backupPath(backup.dir, target.name, started, backup.format);
  const partial = partialPath(path);
  const timeoutMs = backup.timeoutSeconds * 1000;
  await io.exec(mkdirP(backup.dir));
  const absent = await io.exec(assertAbsent(path), { allowFailure: true });
  if (absent.code !== 0) throw new StepFailedError(`${path} already exists; a backup never overwrites another`, io.output);
  try {
    await io.execTrusted(dumpLine(backup.command, partial), "backup.command", { timeoutMs });
    const nonEmpty = await io.exec(testNonEmpty(partial), { allowFailure: true });
    if (nonEmpty.code !== 0) throw new StepFailedError("the dump is empty", io.output);
    const verified = await verify(io, partial, backup.format, timeoutMs);
    await io.exec(moveInto(partial, path));
    const size = await io.exec(fileSize(path));
    const sizeBytes = Number.parseInt(size.stdout.trim(), 10);
    return { path, sizeBytes: Number.isFinite(sizeBytes) ? sizeBytes : 0, durationMs: deps.clock.now().getTime() - started.getTime(), verified };
  } catch (err) {
    await io.exec(removeFile(partial), { allowFailure: true });
    throw err;
  }
}

async function verify(io: StepIO, partial: string, format: BackupFormat, timeoutMs: number): Promise<string> {
  if (format === "gzip") {
    await io.exec(gzipTest(partial), { timeoutMs });
    return "gzip -t";
  }
  if (format === "plain") return "non-empty";
  const list = await io.exec(pgRestoreList(partial), { allowFailure: true, timeoutMs, maxOutputBytes: 4 * 1024 * 1024 });
  if (list.code === 127) {
    // pg_restore is not on the host (Postgres lives in a container): check the archive header.
    const head = await io.exec(headBytes(partial, 5));
    if (head.stdout !== "PGDMP") throw new StepFailedError("not a pg_dump custom-format archive (no PGDMP header)", io.output);
    return "PGDMP header (pg_restore not installed on the target)";
  }
  if (list.code !== 0 || list.timedOut) throw new StepFailedError(`pg_restore --list rejected the dump (exit ${list.code ?? "killed"})`, io.output);
  const entries = list.stdout.split("\n").filter((l) => l.trim() && !l.startsWith(";")).length;
  return list.truncated ? "pg_restore --list" : `pg_restore --list: ${entries} entries`;
}

/** Records a backup and deletes the oldest of ours beyond `keep` (never files opsgram did not make). */
export async function recordAndPrune(io: StepIO, target: TargetHandle, deps: OperationsDeps, operationId: string, taken: BackupTaken): Promise<{ record: BackupRecord; pruned: number }> {
  const record = await deps.repos.backups.insert({
    target: target.name,
    operationId,
    path: taken.path,
    sizeBytes: taken.sizeBytes,
    durationMs: taken.durationMs,
    status: "succeeded",
    createdAt: deps.clock.now(),
    error: null,
  });
  const keep = target.config.backup?.keep ?? Number.POSITIVE_INFINITY;
  const kept = await deps.repos.backups.kept(target.name);
  let pruned = 0;
  for (const old of kept.slice(keep)) {
    if (!old.path) continue;
    const rm = await io.exec(removeFile(old.path), { allowFailure: true });
    if (rm.code === 0) {
      await deps.repos.backups.markPruned(old.id, deps.clock.now());
      pruned++;
    } else {
      deps.log.warn({ path: old.path, target: target.name }, "could not prune an old backup");
    }
  }
  return { record, pruned };
}

/** Records a failed backup so the backup-age monitor and /backups see it. */
export async function recordFailedBackup(target: TargetHandle, deps: OperationsDeps, operationId: string, error: string): Promise<void> {
  await deps.repos.backups.insert({
    target: target.name,
    operationId,
    path: null,
    sizeBytes: null,
    durationMs: null,
    status: "failed",
    createdAt: deps.clock.now(),
    error,
  });
}

/** Takes, verifies, records and prunes one backup as a step named `id` (used by /backup and deploy's backupFirst). */
export async function backupStep(ctx: RunContext, id: string, title: string): Promise<BackupTaken> {
  try {
    return await ctx.steps.run<BackupTaken>(id, title, async (io) => {
      const taken = await dumpAndVerify(io, ctx.target, ctx.deps);
      const { pruned } = await recordAndPrune(io, ctx.target, ctx.deps, ctx.op.id, taken);
      return {
        summary: `backup ${formatBytes(taken.sizeBytes)}${pruned ? ` (pruned ${pruned})` : ""}`,
        value: taken,
      };
    });
  } catch (err) {
    await recordFailedBackup(ctx.target, ctx.deps, ctx.op.id, err instanceof Error ? err.message : String(err));
    throw err;
  }
}

/** `/backup` as an operation: one step, lock held, no confirmation. */
export const backupDefinition = defineOperation<BackupPlanData>({
  kind: "backup",
  usesLock: true,
  async execute(ctx) {
    ctx.steps.declare([{ id: "backup", title: "dump + verify" }]);
    const taken = await backupStep(ctx, "backup", "dump + verify");
    return {
      status: "succeeded",
      summary: [`backup ${taken.path} · ${formatBytes(taken.sizeBytes)} · verified (${taken.verified})`],
      result: { path: taken.path, sizeBytes: taken.sizeBytes, verified: taken.verified },
    };
  },
});
