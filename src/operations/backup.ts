import { formatBytes } from "../shared/format.js";
import { backupPath, copyLine, dumpScript, readReport, removeFile, removeFiles, partialPath, type BackupFormat } from "../commands/backup.js";
import { defineOperation, type OperationsDeps, type PlanOutcome, type RunContext, type TargetHandle } from "./context.js";
import type { BackupRecord } from "./model.js";
import { StepFailedError } from "./errors.js";
import type { StepIO } from "./steps.js";
import { runDrill, type DrillPlanData } from "./drill.js";

export interface BackupPlanData {
  mode?: "backup";
  dir: string;
  format: BackupFormat;
  keep: number;
}

/** What one backup left on the target. */
export interface BackupTaken {
  path: string;
  sizeBytes: number;
  durationMs: number;
  /** Proven by content; false when only the header could be checked. */
  verified: boolean;
  /** How: "pg_restore read 42 entries", "closing line", "PGDMP header only (…)". */
  verification: string;
}

/** A backup older than this is never pruned while it is the newest verified one: a bad night does not eat the last good copy. */
const KEEP_VERIFIED_OLDER_THAN_MS = 24 * 3600_000;

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

/** "✓ verified (how)" or "⚠ unverified (how)": the words every summary uses. */
export function verifiedWords(v: { verified: boolean; verification: string | null }): string {
  return v.verified ? `verified (${v.verification ?? "?"})` : `⚠ unverified (${v.verification ?? "not checked"})`;
}

/**
 * Dumps into `<path>.partial` on the target, verifies it by content, and only then moves it into
 * place — all in one command (pipefail, umask 077): a failed or half-written dump never looks like
 * a backup. No byte passes through the bot.
 */
export async function dumpAndVerify(io: StepIO, target: TargetHandle, deps: OperationsDeps): Promise<BackupTaken> {
  const backup = target.config.backup;
  if (!backup) throw new Error(`no backup configured for ${target.name}`);
  const started = deps.clock.now();
  const path = backupPath(backup.dir, target.name, started, backup.format);
  const script = dumpScript({ command: backup.command, dir: backup.dir, path, format: backup.format, verify: backup.verify });
  const result = await io.execTrusted(script, "backup.command", { timeoutMs: backup.timeoutSeconds * 1000, allowFailure: true });
  if (result.code !== 0 || result.timedOut) {
    // A killed script could not remove its partial file itself.
    if (result.timedOut || result.code === null) await io.exec(removeFile(partialPath(path)), { allowFailure: true });
    throw new StepFailedError(failureReason(result.stderr, result.timedOut, result.code), io.output);
  }
  const report = readReport(result.stdout);
  return {
    path,
    sizeBytes: report.sizeBytes ?? 0,
    durationMs: deps.clock.now().getTime() - started.getTime(),
    verified: report.verified,
    verification: report.verification ?? "not checked",
  };
}

/** The script's own reason ("opsgram: the dump is empty"), else how it ended. */
export function failureReason(stderr: string, timedOut: boolean, code: number | null): string {
  if (timedOut) return "the backup timed out";
  const own = stderr.split("\n").reverse().find((l) => l.startsWith("opsgram: "));
  return own ? own.slice("opsgram: ".length) : `exited ${code ?? "killed"}`;
}

/**
 * Records a backup and deletes the oldest of ours beyond `keep` (never files opsgram did not make).
 * The newest verified backup older than a day is kept whatever `keep` says: if tonight's backups are
 * all broken or unverified, yesterday's good one is still there.
 */
export async function recordAndPrune(
  io: StepIO,
  target: TargetHandle,
  deps: OperationsDeps,
  operationId: string,
  taken: BackupTaken,
  deploymentId: number | null = null,
): Promise<{ record: BackupRecord; pruned: number }> {
  const now = deps.clock.now();
  const record = await deps.repos.backups.insert({
    target: target.name,
    operationId,
    path: taken.path,
    sizeBytes: taken.sizeBytes,
    durationMs: taken.durationMs,
    status: "succeeded",
    createdAt: now,
    error: null,
    verified: taken.verified,
    verification: taken.verification,
    deploymentId,
  });
  const keep = target.config.backup?.keep ?? Number.POSITIVE_INFINITY;
  const kept = await deps.repos.backups.kept(target.name);
  const anchor = kept.find((b) => b.verified && now.getTime() - b.createdAt.getTime() > KEEP_VERIFIED_OLDER_THAN_MS);
  const doomed = kept.slice(keep).filter((b) => b.path && b.id !== anchor?.id);
  let pruned = 0;
  if (doomed.length > 0) {
    const rm = await io.exec(removeFiles(doomed.map((b) => b.path!)), { allowFailure: true });
    if (rm.code === 0) {
      for (const old of doomed) await deps.repos.backups.markPruned(old.id, now);
      pruned = doomed.length;
    } else {
      deps.log.warn({ target: target.name, files: doomed.length }, "could not prune old backups");
    }
  }
  return { record, pruned };
}

/** Records a failed backup so the backup-age monitor and /backups see it. */
export async function recordFailedBackup(target: TargetHandle, deps: OperationsDeps, operationId: string, error: string, deploymentId: number | null = null): Promise<void> {
  await deps.repos.backups.insert({
    target: target.name,
    operationId,
    path: null,
    sizeBytes: null,
    durationMs: null,
    status: "failed",
    createdAt: deps.clock.now(),
    error,
    verified: false,
    verification: null,
    deploymentId,
  });
}

/**
 * Runs `backup.copy` for a verified backup. Its failure is returned (for the backup's message and
 * an alert), never thrown: the local file stays and the backup itself still counts.
 */
export async function copyOffsite(io: StepIO, target: TargetHandle, path: string): Promise<{ ok: boolean; error?: string }> {
  const backup = target.config.backup;
  if (!backup?.copy) return { ok: true };
  const r = await io.execTrusted(copyLine(backup.copy, path), "backup.copy", { timeoutMs: backup.timeoutSeconds * 1000, allowFailure: true });
  if (r.code === 0 && !r.timedOut) return { ok: true };
  return { ok: false, error: r.timedOut ? "backup.copy timed out" : `backup.copy exited ${r.code ?? "killed"}` };
}

export interface BackupStepOptions {
  /** deploy's backupFirst: the deployment this backup precedes. */
  deploymentId?: number | null;
  /** Refuse an unverified backup (a restore's safety backup must be proven). */
  requireVerified?: boolean;
}

/** What a backup step produced, copy included. */
export interface BackupStepResult extends BackupTaken {
  record: BackupRecord;
  copy: { ok: boolean; error?: string } | null;
}

/** Takes, verifies, records, prunes and copies one backup as a step named `id` (/backup, backupFirst, scheduled, safety). */
export async function backupStep(ctx: RunContext, id: string, title: string, options: BackupStepOptions = {}): Promise<BackupStepResult> {
  const deploymentId = options.deploymentId ?? null;
  try {
    return await ctx.steps.run<BackupStepResult>(id, title, async (io) => {
      const taken = await dumpAndVerify(io, ctx.target, ctx.deps);
      if (options.requireVerified && !taken.verified) {
        await io.exec(removeFile(taken.path), { allowFailure: true });
        throw new StepFailedError(`the backup could not be verified (${taken.verification}); set backup.verify`, io.output);
      }
      const { record, pruned } = await recordAndPrune(io, ctx.target, ctx.deps, ctx.op.id, taken, deploymentId);
      const copy = taken.verified && ctx.target.config.backup?.copy ? await copyOffsite(io, ctx.target, taken.path) : null;
      if (copy && !copy.ok) {
        await ctx.audit("failed", { copy: copy.error, path: taken.path }, "backup.copy");
        await ctx.deps.repos.backups.setCopyError(record.id, copy.error ?? "backup.copy failed");
      }
      return {
        summary: `backup ${formatBytes(taken.sizeBytes)}${taken.verified ? "" : " ⚠ unverified"}${pruned ? ` (pruned ${pruned})` : ""}${copy ? (copy.ok ? " · copied" : " · ⚠ copy failed") : ""}`,
        value: { ...taken, record, copy },
      };
    });
  } catch (err) {
    await recordFailedBackup(ctx.target, ctx.deps, ctx.op.id, err instanceof Error ? err.message : String(err), deploymentId);
    throw err;
  }
}

/** `/backup` as an operation: one step, lock held, no confirmation. */
export const backupDefinition = defineOperation<BackupPlanData | DrillPlanData>({
  kind: "backup",
  usesLock: true,
  async execute(ctx) {
    // `/backup drill` is a backup-kind operation (same command, same role) with its own run.
    if (ctx.plan.data.mode === "drill") return runDrill(ctx as RunContext<DrillPlanData>);
    ctx.steps.declare([{ id: "backup", title: "dump + verify" }]);
    const taken = await backupStep(ctx, "backup", "dump + verify");
    const copyLine = taken.copy && !taken.copy.ok ? [` · ⚠ copy failed: ${taken.copy.error} (the local file stays)`] : taken.copy ? [" · copied"] : [];
    return {
      status: "succeeded",
      summary: [`backup ${taken.path} · ${formatBytes(taken.sizeBytes)} · ${verifiedWords(taken)}`, ...copyLine],
      result: { path: taken.path, sizeBytes: taken.sizeBytes, verified: taken.verified, verification: taken.verification, copyFailed: taken.copy ? !taken.copy.ok : false },
    };
  },
});
