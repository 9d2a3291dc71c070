import { LinkLostError } from "../shared/ports.js";
import { defineOperation, type OperationsDeps, type PlanOutcome, type TargetHandle } from "./context.js";
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
  if (to.kind === "last") {
    const last = await deps.repos.deployments.lastSucceeded(target.name);
    if (!last || !last.previousSha) {
      return { status: "refused", reason: `Nothing to roll back on ${target.name}: no successful deployment is recorded. Use /rollback <sha> to go to a commit.` };
    }
    sha = last.previousSha;
    label = `undo #${last.id}`;
    because = `undoes deployment #${last.id} (${last.kind} ${last.ref ?? ""} → ${short(last.sha ?? "")} by ${last.requestedByName ? `@${last.requestedByName}` : "?"})`;
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
      data: { sha: resolved, liveSha: live.sha, label, liveSubject: live.subject, because, gone, back, healthUrl: target.config.deploy.healthcheck.map((c) => c.url).join(", ") || null },
    },
  };
}

/** The rollback run: the same frame and forward pass as a deploy, to an older commit, without operator steps. */
export const rollbackDefinition = defineOperation<RollbackPlanData>({
  kind: "rollback",
  usesLock: true,
  changesContainers: true,
  execute(ctx) {
    const { sha, label } = ctx.plan.data;
    return runRelease(ctx, {
      kind: "rollback",
      label,
      sha,
      fetchIfMissing: false,
      forward: (c) => releasePass(c, "forward", sha, { operatorSteps: false }),
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
  },
});
