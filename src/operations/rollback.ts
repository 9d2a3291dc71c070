import { LinkLostError } from "../shared/ports.js";
import { defineOperation, type OperationsDeps, type PlanOutcome, type RunContext, type RunOutcome, type TargetHandle } from "./context.js";
import { personName } from "../shared/format.js";
import { RESTORE_STEPS, runRestore } from "./restore.js";
import { commitsBetween, fetchRemote, readHead, resolveCommit, type CommitList } from "./git-state.js";
import { code, releasePass, restoreCheckout, runRelease, short } from "./release.js";
import type { RollbackTarget } from "./requests.js";

export interface RollbackPlanData {
  sha: string;
  liveSha: string;
  /** What the user asked for, for the deployments row: "last deployment", "#12", "a1b2c3d". */
  label: string;
  liveSubject: string;
  /** Why this commit, in words ("undoes deployment #12 (…)"); empty for a sha typed by hand. */
  because: string;
  /** Commits that leave, and ones that come back. */
  gone: CommitList;
  back: CommitList;
  /** The health URL the gate will ask, when one is configured. */
  healthUrl: string | null;
  /** The backupFirst dump of the deployment being undone, offered as [Code + restore DB]. */
  dbBackup?: { id: number; path: string; sizeBytes: number | null; createdAt: string; deploymentId: number; verified?: boolean } | null;
  /** deploy.rollbackSteps by name, run before the checkout. */
  rollbackSteps?: string[];
  /** Set when [Code + restore DB] was pressed: the restore runs after the code rollback. */
  restoreDatabase?: boolean;
  stopServices?: string[];
}

/**
 * `/rollback`: with no argument, undo the last successful deployment — go back to the commit that
 * was live before it (recorded even when that version was deployed by hand). With `#id`, return to
 * what that deployment put live; with a sha, to that commit. The plan says plainly that the database
 * is not restored.
 */
export async function planRollback(target: TargetHandle, deps: OperationsDeps, to: RollbackTarget): Promise<PlanOutcome<RollbackPlanData>> {
  let sha: string | null;
  let label: string;
  let because = "";
  let dbBackup: RollbackPlanData["dbBackup"] = null;
  if (to.kind === "last") {
    const last = await deps.repos.deployments.lastSucceeded(target.name);
    if (!last || !last.previousSha) {
      return { status: "refused", reason: `Nothing to roll back on ${target.name}: no successful deployment is recorded. Use /rollback <sha> to go to a commit.` };
    }
    sha = last.previousSha;
    label = `undo #${last.id}`;
    because = `undoes deployment #${last.id} (${last.kind} ${last.ref ?? ""} → ${short(last.sha ?? "")} by ${personName({ userId: last.requestedBy, username: last.requestedByName })})`;
    const dump = target.config.backup?.restore ? await deps.repos.backups.byDeployment(last.id) : null;
    if (dump?.path) dbBackup = { id: dump.id, path: dump.path, sizeBytes: dump.sizeBytes, createdAt: dump.createdAt.toISOString(), deploymentId: last.id, verified: dump.verified };
  } else if (to.kind === "deployment") {
    const d = await deps.repos.deployments.get(to.id);
    if (!d || d.target !== target.name || !d.sha) return { status: "refused", reason: `There is no deployment #${to.id} on ${target.name}.` };
    sha = d.sha;
    label = `#${d.id}`;
    because = `returns to what deployment #${d.id} put live (${d.ref ?? ""})`;
  } else {
    sha = to.sha;
    label = to.sha.slice(0, 12);
  }
  const resolved = (await resolveCommit(target, sha)) ?? (await fetchRemote(target).then(() => resolveCommit(target, sha!)));
  if (!resolved) return { status: "refused", reason: `Commit ${sha.slice(0, 12)} is not in ${target.name}'s repository.` };
  const live = await readHead(target);
  if (resolved === live.sha) return { status: "refused", reason: `${short(resolved)} is already live on ${target.name}; nothing to roll back.` };
  const [gone, back] = await Promise.all([commitsBetween(target, resolved, live.sha), commitsBetween(target, live.sha, resolved)]);
  return {
    status: "planned",
    plan: {
      title: `↩ Rollback ${target.name} to ${short(resolved)}`,
      lockReason: `rollback to ${short(resolved)}`,
      data: {
        sha: resolved,
        liveSha: live.sha,
        label,
        liveSubject: live.subject,
        because,
        gone,
        back,
        healthUrl: target.config.deploy.healthcheck.map((c) => c.url).join(", ") || null,
        dbBackup,
        rollbackSteps: target.config.deploy.rollbackSteps.map((s) => s.name),
        stopServices: target.config.backup?.stopServices ?? [],
      },
    },
  };
}

/** The rollback run: the same frame and forward pass as a deploy, to an older commit, without operator steps. */
export const rollbackDefinition = defineOperation<RollbackPlanData>({
  kind: "rollback",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const { sha, label, dbBackup, restoreDatabase } = ctx.plan.data;
    const outcome = await runRelease(ctx, {
      kind: "rollback",
      label,
      sha,
      fetchIfMissing: false,
      forward: (c) => releasePass(c, "forward", sha, { operatorSteps: false, rollbackSteps: true }),
      succeeded: ["rolled back to ", code(short(sha)), " (database not restored)"],
      async onFailure(c, err, previousSha) {
        if (err.touchedContainers || err.cause instanceof LinkLostError) {
          return {
            status: "failed",
            summary: [`rollback failed at ${err.step}: ⚠ ${short(sha)} may be partly up — check /status; the target is frozen`],
            freeze: `rollback to ${short(sha)} failed at ${err.step}`,
          };
        }
        const restored = await restoreCheckout(c, previousSha);
        return { status: "failed", summary: [`rollback failed at ${err.step}: `, ...(restored ? ["checkout back at ", code(short(previousSha))] : ["⚠ checkout NOT restored"]), "; running containers untouched"] };
      },
    });
    if (!restoreDatabase || !dbBackup || outcome.status !== "succeeded") return outcome;
    return restoreAfterRollback(ctx, sha, dbBackup.path, outcome);
  },
});

/** [Code + restore DB]: the restore (safety backup included) after the code is back. */
async function restoreAfterRollback(ctx: RunContext<RollbackPlanData>, sha: string, path: string, code_: RunOutcome): Promise<RunOutcome> {
  ctx.steps.declare(RESTORE_STEPS.map((s) => ({ id: `db-${s.id}`, title: `db ${s.title}` })));
  try {
    const db = ctx.plan.data.dbBackup;
    const done = await runRestore(ctx, { path, stopServices: ctx.plan.data.stopServices ?? [], verifiedSize: db?.verified ? db.sizeBytes : null }, "db-");
    return {
      ...code_,
      summary: ["rolled back to ", code(short(sha)), " and restored the database from ", code(path)],
      ...(done.safety ? { suffix: [" · safety backup ", code(done.safety.path)] } : {}),
    };
  } catch (err) {
    const safety = ctx.steps.records.find((r) => r.id === "db-safety" && r.ok);
    const rows = safety ? await ctx.deps.repos.backups.recent(ctx.target.name, 5) : [];
    const safetyRow = rows.find((b) => b.operationId === ctx.op.id && b.status === "succeeded" && b.path);
    return {
      status: "failed",
      summary: ["rolled back to ", code(short(sha)), `, but the database restore failed at ${ctx.steps.failure?.title ?? "?"}: ${err instanceof Error ? err.message : String(err)}`],
      footer: safetyRow?.path ? ["/restore → pick ", code(safetyRow.path.split("/").at(-1) ?? safetyRow.path), " to get the database back as it was before"] : ["the database was not changed (the safety backup did not complete)"],
      ...(code_.result ? { result: code_.result } : {}),
    };
  }
}
