import { escapeHtml, formatDuration } from "../shared/format.js";
import type { GitHead, GitLogEntry } from "../commands/git.js";
import { backupStep } from "./backup.js";
import type { OperationDefinition, PlanOutcome, RunContext, RunOutcome, TargetHandle } from "./context.js";
import { RefNotFoundError, TargetUnavailableError } from "./errors.js";
import { commitsBetween, fetchRemote, readHead, resolveCommit, resolveRef, MAX_PLAN_COMMITS } from "./git-state.js";
import type { DeploymentKind, DeploymentRecord } from "./model.js";
import { ReleaseFailedError, release, releaseSteps, restoreCheckout, short } from "./release.js";

/** What a confirmed /deploy runs: the sha was resolved when planning, so what you saw is what ships. */
export interface DeployPlanData {
  ref: string;
  sha: string;
  liveSha: string;
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
  const lines = [
    `live <code>${short(live.sha)}</code> ${escapeHtml(live.subject)}`,
    `new  <code>${short(sha)}</code> ${escapeHtml(ref)}${ahead[0] ? ` — ${escapeHtml(ahead[0].subject)}` : ""}`,
  ];
  if (sha === live.sha) lines.push("ℹ this commit is already live: it will be rebuilt and restarted.");
  if (ahead.length > 0) lines.push(`${countCommits(ahead)} new:`, ...listCommits(ahead, "+"));
  if (behind.length > 0) lines.push(`⚠ ${countCommits(behind)} now live will be gone:`, ...listCommits(behind, "−"));
  lines.push(`Steps: ${describeSteps(target)}`);
  return {
    status: "planned",
    plan: {
      title: `🚀 Deploy ${ref} → ${target.name}`,
      headline: `<code>${short(live.sha)}</code> → <code>${short(sha)}</code>`,
      html: lines.join("\n"),
      lockReason: `deploy ${ref}`,
      data: { ref, sha, liveSha: live.sha },
    },
  };
}

export function countCommits(list: readonly GitLogEntry[]): string {
  return list.length > MAX_PLAN_COMMITS ? `more than ${MAX_PLAN_COMMITS} commits` : `${list.length} commit${list.length === 1 ? "" : "s"}`;
}

export function listCommits(list: readonly GitLogEntry[], mark: string): string[] {
  return list.slice(0, MAX_PLAN_COMMITS).map((c) => `  ${mark} <code>${escapeHtml(c.shortSha.slice(0, 7))}</code> ${escapeHtml(c.subject)}`);
}

function describeSteps(target: TargetHandle): string {
  const d = target.config.deploy;
  const parts = [
    ...(d.backupFirst && target.config.backup ? ["backup"] : []),
    "checkout",
    "build",
    ...d.steps.map((s) => s.name),
    "up -d",
    d.healthcheck.length > 0
      ? `health (${d.healthcheck.map((c) => `${c.url} → ${c.expectStatus}`).join(", ")}, ≤ ${formatDuration(Math.max(...d.healthcheck.map((c) => c.timeoutSeconds)) * 1000)})`
      : "health (containers running/healthy)",
  ];
  return `${escapeHtml(parts.join(" · "))}${d.autoRollback ? " · auto-rollback if unhealthy" : " · no auto-rollback"}`;
}

/** Records the deployment row for a run; `previousSha` is what was live when it started. */
export async function startDeployment(ctx: RunContext<unknown>, kind: DeploymentKind, ref: string, sha: string, previousSha: string): Promise<DeploymentRecord> {
  return ctx.deps.repos.deployments.insert({
    operationId: ctx.op.id,
    target: ctx.target.name,
    kind,
    ref,
    sha,
    previousSha,
    status: "running",
    requestedBy: ctx.op.requestedBy,
    requestedByName: ctx.op.requestedByName,
    startedAt: ctx.deps.clock.now(),
  });
}

/** Re-reads the target at run time: the commit must exist, and what is live now is what a rollback returns to. */
export async function verifyAndReadLive(ctx: RunContext<unknown>, sha: string, options: { fetchIfMissing: boolean }): Promise<string> {
  return ctx.steps.run<string>("fetch", "fetch", async (io) => {
    let [found, live] = await Promise.all([resolveCommit(ctx.target, sha), readHead(ctx.target)]);
    if (!found && options.fetchIfMissing) {
      await fetchRemote(ctx.target);
      found = await resolveCommit(ctx.target, sha);
    }
    if (!found) throw new Error(`commit ${short(sha)} is no longer in the target's repository`);
    io.note(`live ${live.sha} ${live.subject}`);
    return { summary: "fetched", value: live.sha };
  });
}

/**
 * The deploy run: fetch check, backup (when configured), checkout, build, operator steps, up, health
 * gate. A failure before `up` restores the checkout and leaves the running containers alone; a
 * failure at `up` or the gate rolls back to the previous commit when autoRollback is on.
 */
export const deployDefinition: OperationDefinition<DeployPlanData> = {
  kind: "deploy",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const { ref, sha } = ctx.plan.data;
    const c = ctx as RunContext<unknown>;
    const cfg = ctx.target.config;
    const withBackup = cfg.deploy.backupFirst && cfg.backup !== undefined;
    ctx.steps.declare([{ id: "fetch", title: "fetch" }, ...(withBackup ? [{ id: "backup", title: "backup" }] : []), ...releaseSteps(ctx.target, "", { operatorSteps: true })]);
    const previousSha = await verifyAndReadLive(c, sha, { fetchIfMissing: true });
    const deployment = await startDeployment(c, "deploy", ref, sha, previousSha);
    const finish = (status: "succeeded" | "failed" | "rolled_back") => ctx.deps.repos.deployments.finish(deployment.id, status, ctx.deps.clock.now());
    const result = { deploymentId: deployment.id, sha, previousSha };
    try {
      if (withBackup) await backupStep(c, "backup", "backup");
    } catch {
      await finish("failed");
      return { status: "failed", summary: `failed at backup: nothing was changed`, result };
    }
    try {
      await release(c, sha, "", { operatorSteps: true });
      await finish("succeeded");
      return { status: "succeeded", summary: `deployed <code>${short(sha)}</code> (${escapeHtml(ref)})`, result };
    } catch (err) {
      if (!(err instanceof ReleaseFailedError)) throw err;
      return recover(c, err, { sha, previousSha, finish, result, autoRollback: cfg.deploy.autoRollback });
    }
  },
};

async function recover(
  ctx: RunContext<unknown>,
  err: ReleaseFailedError,
  o: { sha: string; previousSha: string; finish: (s: "failed" | "rolled_back") => Promise<void>; result: Record<string, unknown>; autoRollback: boolean },
): Promise<RunOutcome> {
  const step = escapeHtml(err.step);
  if (err.phase === "before-up") {
    const restored = o.sha === o.previousSha || (await restoreCheckout(ctx, o.previousSha));
    await o.finish("failed");
    const tree = restored ? `checkout back at <code>${short(o.previousSha)}</code>` : `⚠ the checkout could NOT be restored to <code>${short(o.previousSha)}</code>`;
    const steps = ctx.target.config.deploy.steps.length > 0 ? " (operator steps that ran may have changed the database)" : "";
    return { status: "failed", summary: `failed at ${step}: ${tree}; running containers untouched${steps}`, result: o.result };
  }
  if (!o.autoRollback) {
    await o.finish("failed");
    return { status: "failed", summary: `failed at ${step}; autoRollback is off, <code>${short(o.sha)}</code> stays checked out`, result: o.result };
  }
  ctx.note(`rolling back to ${short(o.previousSha)}`);
  ctx.steps.declare(releaseSteps(ctx.target, "rb-", { operatorSteps: false }));
  await ctx.audit("info", { rollback: { from: o.sha, to: o.previousSha, reason: err.message } });
  try {
    await release(ctx, o.previousSha, "rb-", { operatorSteps: false });
  } catch (rollbackErr) {
    await o.finish("failed");
    const where = rollbackErr instanceof ReleaseFailedError ? escapeHtml(rollbackErr.step) : "?";
    return {
      status: "failed",
      summary: `failed at ${step}, and the rollback to <code>${short(o.previousSha)}</code> failed too at ${where} — the target needs a human`,
      result: o.result,
    };
  }
  await o.finish("rolled_back");
  return {
    status: "rolled_back",
    summary: `rolled back to <code>${short(o.previousSha)}</code>: <code>${short(o.sha)}</code> failed at ${step} (${escapeHtml(err.message)})`,
    result: o.result,
  };
}
