import { composeBase, composeSpec, composeUp } from "../commands/compose.js";
import { formatOf, restoreScript, unchangedScript, verifyScript, readReport } from "../commands/backup.js";
import { formatBytes } from "../shared/format.js";
import type { RichText } from "../shared/rich-text.js";
import { backupStep, failureReason, type BackupStepResult } from "./backup.js";
import { defineOperation, type OperationsDeps, type PlanOutcome, type RunContext, type RunOutcome, type TargetHandle } from "./context.js";
import { StepFailedError } from "./errors.js";
import { healthGateStep } from "./health-step.js";
import type { BackupRecord } from "./model.js";
import { code } from "./release.js";

/** What a confirmed /restore runs: the backup was chosen in chat and re-read when planning. */
export interface RestorePlanData {
  backupId: number;
  path: string;
  sizeBytes: number | null;
  /** ISO: the plan round-trips JSON. */
  createdAt: string;
  verified: boolean;
  verification: string | null;
  deploymentId: number | null;
  stopServices: string[];
  /** The health gate that follows, in words. */
  health: string;
}

/** Why a target cannot restore at all (null: it can). */
export function restoreUnavailable(target: TargetHandle): string | null {
  const b = target.config.backup;
  if (!b) return `No backup is configured for ${target.name} (backup: in opsgram.yml).`;
  if (!b.restore) return `No restore command is configured for ${target.name} (backup.restore in opsgram.yml reads the dump on stdin).`;
  return null;
}

/** The backups /restore offers: recent, succeeded, still on disk, newest first. */
export async function restorableBackups(target: TargetHandle, deps: OperationsDeps, limit = 8): Promise<BackupRecord[]> {
  const rows = await deps.repos.backups.recent(target.name, 30);
  return rows.filter((b) => b.status === "succeeded" && b.path !== null).slice(0, limit);
}

export function describeHealthGate(target: TargetHandle): string {
  const checks = target.config.deploy.healthcheck;
  return checks.length > 0 ? checks.map((c) => `${c.url} → ${c.expectStatus}`).join(", ") : "containers running/healthy";
}

/** `/restore`: the chosen backup must belong to the target and still be a kept backup. */
export async function planRestore(target: TargetHandle, deps: OperationsDeps, backupId: number): Promise<PlanOutcome<RestorePlanData>> {
  const unavailable = restoreUnavailable(target);
  if (unavailable) return { status: "refused", reason: unavailable };
  const b = await deps.repos.backups.get(backupId);
  if (!b || b.target !== target.name) return { status: "refused", reason: `There is no backup #${backupId} of ${target.name}.` };
  if (b.status !== "succeeded" || !b.path) return { status: "refused", reason: `Backup #${backupId} is ${b.status === "pruned" ? "pruned (its file is gone)" : "a failed backup"}.` };
  const file = b.path.split("/").at(-1) ?? b.path;
  return {
    status: "planned",
    plan: {
      title: `♻ Restore ${target.name} from ${file}`,
      lockReason: `restore ${file}`,
      data: {
        backupId: b.id,
        path: b.path,
        sizeBytes: b.sizeBytes,
        createdAt: b.createdAt.toISOString(),
        verified: b.verified,
        verification: b.verification,
        deploymentId: b.deploymentId,
        stopServices: target.config.backup!.stopServices,
        health: describeHealthGate(target),
      },
    },
  };
}

export const RESTORE_STEPS = [
  { id: "check", title: "check file" },
  { id: "safety", title: "safety backup" },
  { id: "stop", title: "stop services" },
  { id: "restore", title: "restore" },
  { id: "start", title: "start services" },
  { id: "health", title: "health" },
] as const;

/** What a restore run left behind, for the summary. */
export interface RestoreDone {
  safety: BackupStepResult | null;
  ms: number;
}

/**
 * The restore itself, as steps of the running operation (used by /restore and by a rollback with
 * the database): re-verify the chosen file, take a verified safety backup, stop stopServices,
 * `( restore ) < file`, start them again, health gate. Services are started again even when the
 * restore fails, so a failed restore does not also leave the app down. Step ids carry `prefix` so
 * a rollback can run it after its own steps.
 */
export async function runRestore(ctx: RunContext, data: Pick<RestorePlanData, "path" | "stopServices"> & { verifiedSize?: number | null }, prefix = ""): Promise<RestoreDone> {
  const backup = ctx.target.config.backup;
  if (!backup?.restore) throw new Error(`no backup.restore configured for ${ctx.target.name}`);
  const started = ctx.deps.clock.now().getTime();
  const id = (s: string) => `${prefix}${s}`;
  const format = formatOf(data.path);
  const timeoutMs = backup.timeoutSeconds * 1000;
  await ctx.steps.run(id("check"), "check file", async (io) => {
    if (data.verifiedSize !== undefined && data.verifiedSize !== null) {
      // Verified by content when it was taken: same size now is enough, and costs one stat.
      const same = await io.execTrusted(unchangedScript(data.path, data.verifiedSize), "check backup", { timeoutMs: 60_000, allowFailure: true });
      if (same.code === 0 && !same.timedOut) return { summary: "file unchanged since verified" };
      throw new StepFailedError(failureReason(same.stderr, same.timedOut, same.code), io.output);
    }
    const r = await io.execTrusted(verifyScript(data.path, format, backup.verify), "verify backup", { timeoutMs, allowFailure: true });
    if (r.code !== 0 || r.timedOut) throw new StepFailedError(failureReason(r.stderr, r.timedOut, r.code), io.output);
    const report = readReport(r.stdout);
    return { summary: report.verified ? "file verified" : "file present (⚠ unverified)" };
  });
  const safety = await backupStep(ctx, id("safety"), "safety backup", { requireVerified: true });
  const spec = composeSpec(ctx.target.config);
  const services = data.stopServices;
  if (services.length === 0) {
    ctx.steps.skip(id("stop"));
  } else {
    await ctx.steps.run(id("stop"), "stop services", async (io) => {
      await io.exec([...composeBase(spec), "stop", ...services]);
      return { summary: `stopped ${services.join(", ")}` };
    });
  }
  let restoreError: unknown = null;
  try {
    await ctx.steps.run(id("restore"), "restore", async (io) => {
      await io.execTrusted(restoreScript(backup.restore!, data.path), "backup.restore", { timeoutMs });
      return { summary: `restored ${data.path.split("/").at(-1)}` };
    });
  } catch (err) {
    restoreError = err;
  }
  if (services.length === 0) {
    ctx.steps.skip(id("start"));
  } else {
    await ctx.steps.run(id("start"), "start services", async (io) => {
      await io.exec(composeUp(spec, { services, noDeps: true }));
      return { summary: `started ${services.join(", ")}` };
    });
  }
  if (restoreError) throw restoreError;
  await ctx.steps.run(id("health"), "health", async (io) => ({ summary: await healthGateStep(ctx, io, "health") }));
  return { safety, ms: ctx.deps.clock.now().getTime() - started };
}

/** "/restore → pick <safety file>": how to get back to the database as it was before. */
export function backHint(safety: BackupStepResult | null): RichText {
  return safety ? ["/restore → pick ", code(safety.path.split("/").at(-1) ?? safety.path), " to get the database back as it was before"] : ["nothing was changed: the safety backup did not complete"];
}

export const restoreDefinition = defineOperation<RestorePlanData>({
  kind: "restore",
  usesLock: true,
  changesContainers: true,
  async execute(ctx): Promise<RunOutcome> {
    const { path } = ctx.plan.data;
    ctx.steps.declare(RESTORE_STEPS);
    let safety: BackupStepResult | null = null;
    try {
      const d = ctx.plan.data;
      const done = await runRestore(ctx, { path: d.path, stopServices: d.stopServices, verifiedSize: d.verified ? d.sizeBytes : null });
      safety = done.safety;
    } catch (err) {
      safety = ctx.steps.records.some((r) => r.id === "safety" && r.ok) ? await lastSafety(ctx) : null;
      const where = ctx.steps.failure?.title ?? "?";
      const message = err instanceof Error ? err.message : String(err);
      return { status: "failed", summary: [`restore of `, code(path), ` failed at ${where}: ${message}`], footer: backHint(safety) };
    }
    return {
      status: "succeeded",
      summary: ["restored ", code(path)],
      suffix: safety ? [" · safety backup ", code(safety.path), ` (${formatBytes(safety.sizeBytes)})`] : [],
      result: { path, safetyBackup: safety?.path ?? null, safetyBackupId: safety?.record.id ?? null },
    };
  },
});

/** The safety backup this operation recorded (its step succeeded before something later failed). */
async function lastSafety(ctx: RunContext): Promise<BackupStepResult | null> {
  const rows = await ctx.deps.repos.backups.recent(ctx.target.name, 5);
  const row = rows.find((b) => b.operationId === ctx.op.id && b.status === "succeeded" && b.path);
  if (!row?.path) return null;
  return { path: row.path, sizeBytes: row.sizeBytes ?? 0, durationMs: row.durationMs ?? 0, verified: row.verified, verification: row.verification ?? "", record: row, copy: null };
}

