import { restoreScript } from "../commands/backup.js";
import type { OperationsDeps, PlanOutcome, RunContext, TargetHandle } from "./context.js";
import type { RunOutcome } from "./reporter.js";
import { code } from "./release.js";

/** `/backup drill`: restores the latest backup into a scratch database with `backup.drill`. */
export interface DrillPlanData {
  mode: "drill";
  backupId: number;
  path: string;
}

export async function planDrill(target: TargetHandle, deps: OperationsDeps): Promise<PlanOutcome<DrillPlanData>> {
  const backup = target.config.backup;
  if (!backup) return { status: "refused", reason: `No backup is configured for ${target.name} (backup: in opsgram.yml).` };
  if (!backup.drill) return { status: "refused", reason: `No drill is configured for ${target.name} (backup.drill restores stdin into a scratch database).` };
  const latest = await deps.repos.backups.lastSucceeded(target.name);
  if (!latest?.path) return { status: "refused", reason: `No backup of ${target.name} to drill yet. /backup takes one.` };
  const file = latest.path.split("/").at(-1) ?? latest.path;
  return { status: "planned", plan: { title: `🧪 Drill ${target.name}: restore ${file} into a scratch database`, lockReason: `drill ${file}`, data: { mode: "drill", backupId: latest.id, path: latest.path } } };
}

/**
 * The drill run: `( drill ) < file` on the target. Recorded either way (when, how long, ok), so
 * /status can show the last good drill and health can alert on a failed or overdue one.
 */
export async function runDrill(ctx: RunContext<DrillPlanData>): Promise<RunOutcome> {
  const { backupId, path } = ctx.plan.data;
  const backup = ctx.target.config.backup;
  ctx.steps.declare([{ id: "drill", title: "restore into scratch" }]);
  const startedAt = ctx.deps.clock.now();
  let error: string | null = null;
  try {
    await ctx.steps.run("drill", "restore into scratch", async (io) => {
      if (!backup?.drill) throw new Error("no backup.drill configured");
      await io.execTrusted(restoreScript(backup.drill, path), "backup.drill", { timeoutMs: backup.timeoutSeconds * 1000 });
      return { summary: "restored into scratch" };
    });
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const durationMs = ctx.deps.clock.now().getTime() - startedAt.getTime();
  await ctx.deps.repos.backups.recordDrill({ target: ctx.target.name, backupId, path, ok: error === null, startedAt, durationMs, error });
  if (error !== null) return { status: "failed", summary: ["drill of ", code(path), ` FAILED: ${error} — this backup may not restore`], result: { path, ok: false } };
  return { status: "succeeded", summary: ["drill ok: ", code(path), " restores"], result: { path, ok: true, restoreMs: durationMs } };
}
