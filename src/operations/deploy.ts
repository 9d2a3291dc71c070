import { formatDuration } from "../shared/format.js";
import { LinkLostError } from "../shared/ports.js";
import type { GitHead } from "../commands/git.js";
import type { RichText } from "../shared/rich-text.js";
import { backupStep } from "./backup.js";
import { describeCheck } from "./health-step.js";
import { defineOperation, type PlanOutcome, type RunContext, type RunOutcome, type TargetHandle } from "./context.js";
import { RefNotFoundError, TargetUnavailableError } from "./errors.js";
import { commitsBetween, fetchRemote, readHead, resolveRef, type CommitList } from "./git-state.js";
import { PassFailedError, code, releasePass, restoreCheckout, runPass, runRelease, short } from "./release.js";

/** What a confirmed /deploy runs: the sha was resolved when planning, so what you saw is what ships. */
export interface DeployPlanData {
  ref: string;
  sha: string;
  liveSha: string;
  liveSubject: string;
  /** Commits the deploy brings in, and the ones now live that it takes away. */
  ahead: CommitList;
  behind: CommitList;
  /** The steps it will run, in words: "backup", "checkout", …, "health (… → 200, ≤ 30 s)". */
  steps: string[];
  autoRollback: boolean;
}

/**
 * `/deploy <ref>`: fetch on the target, resolve the ref to a sha there (an unknown ref is refused
 * before any button is shown), and describe live → new with the commits in between and the steps.
 */
export async function planDeploy(target: TargetHandle, ref: string): Promise<PlanOutcome<DeployPlanData>> {
  let sha: string;
  let live: GitHead;
  try {
    await fetchRemote(target);
    // Independent reads share the one SSH connection in parallel sessions.
    [sha, live] = await Promise.all([resolveRef(target, ref), readHead(target)]);
  } catch (err) {
    if (err instanceof RefNotFoundError || err instanceof TargetUnavailableError) return { status: "refused", reason: err.message };
    throw err;
  }
  const [ahead, behind] = await Promise.all([commitsBetween(target, live.sha, sha), commitsBetween(target, sha, live.sha)]);
  return {
    status: "planned",
    plan: {
      title: `🚀 Deploy ${ref} → ${target.name}`,
      lockReason: `deploy ${ref}`,
      data: { ref, sha, liveSha: live.sha, liveSubject: live.subject, ahead, behind, steps: describeSteps(target), autoRollback: target.config.deploy.autoRollback },
    },
  };
}

function describeSteps(target: TargetHandle): string[] {
  const d = target.config.deploy;
  return [
    ...(d.backupFirst && target.config.backup ? ["backup"] : []),
    "checkout",
    d.services ? `build ${d.services.join(" ")}` : "build",
    ...d.steps.map((s) => s.name),
    d.services ? `up -d ${d.services.join(" ")}` : "up -d",
    ...d.verify.map((s) => `verify ${s.name}`),
    d.healthcheck.length > 0
      ? `health (${d.healthcheck.map(describeCheck).join(", ")}, ≤ ${formatDuration(Math.max(...d.healthcheck.map((c) => c.timeoutSeconds)) * 1000)})`
      : "health (containers running/healthy)",
  ];
}

/**
 * The deploy run: fetch check, backup (when configured), then the forward pass. A failure before
 * `up` restores the checkout and leaves the running containers alone; a failure at `up` or the gate
 * runs the rollback pass to the previous commit when autoRollback is on.
 */
export const deployDefinition = defineOperation<DeployPlanData>({
  kind: "deploy",
  usesLock: true,
  changesContainers: true,
  execute(ctx) {
    const { ref, sha } = ctx.plan.data;
    const cfg = ctx.target.config;
    const withBackup = cfg.deploy.backupFirst && cfg.backup !== undefined;
    return runRelease(ctx, {
      kind: "deploy",
      label: ref,
      sha,
      fetchIfMissing: true,
      ...(withBackup ? { before: { id: "backup", title: "backup", run: (deploymentId) => backupStep(ctx, "backup", "backup", { deploymentId }), failed: ["failed at backup: nothing was changed"] } } : {}),
      forward: (c) => releasePass(c, "forward", sha, { operatorSteps: true }),
      succeeded: ["deployed ", code(short(sha)), ` (${ref})`],
      onFailure: (c, err, previousSha) => afterFailedDeploy(c, err, sha, previousSha),
    });
  },
});

/** Where a failed deploy leaves the target, and the rollback pass when the new version went live. */
async function afterFailedDeploy(ctx: RunContext, err: PassFailedError, sha: string, previousSha: string): Promise<Omit<RunOutcome, "result">> {
  const { step } = err;
  if (err.cause instanceof LinkLostError) {
    // The command may still be running there: a restore or rollback now would run beside it.
    return {
      status: "failed",
      summary: [`the connection to ${ctx.target.name} dropped during ${step}: it may still be running there; nothing more was started and the target is frozen`],
      freeze: `connection lost during ${step} of ${short(sha)}`,
    };
  }
  if (!err.touchedContainers) {
    const restored = sha === previousSha || (await restoreCheckout(ctx, previousSha));
    const tree: RichText = restored ? ["checkout back at ", code(short(previousSha))] : ["⚠ the checkout could NOT be restored to ", code(short(previousSha))];
    const steps = ctx.target.config.deploy.steps.length > 0 ? " (operator steps that ran may have changed the database)" : "";
    return { status: "failed", summary: [`failed at ${step}: `, ...tree, `; running containers untouched${steps}`] };
  }
  if (!ctx.target.config.deploy.autoRollback) {
    return { status: "failed", summary: [`failed at ${step}; autoRollback is off, `, code(short(sha)), " stays checked out"] };
  }
  ctx.note(`rolling back to ${short(previousSha)}`);
  const back = releasePass(ctx, "rollback", previousSha, { operatorSteps: false });
  ctx.steps.declare(back);
  // The rollback never waits on this row: the database may be what just failed.
  await ctx.audit("info", { rollback: { from: sha, to: previousSha, reason: err.message } }).catch((auditErr: unknown) =>
    ctx.deps.log.error({ err: auditErr, operationId: ctx.op.id }, "could not record the rollback decision; rolling back regardless"),
  );
  try {
    await runPass(ctx, back);
  } catch (rollbackErr) {
    const where = rollbackErr instanceof PassFailedError ? rollbackErr.step : "?";
    return {
      status: "failed",
      summary: [`failed at ${step}, and the rollback to `, code(short(previousSha)), ` failed too at ${where} — the target needs a human; it is frozen`],
      freeze: `rollback to ${short(previousSha)} failed at ${where}`,
    };
  }
  return { status: "rolled_back", summary: ["rolled back to ", code(short(previousSha)), ": ", code(short(sha)), ` failed at ${step} (${err.message})`] };
}
