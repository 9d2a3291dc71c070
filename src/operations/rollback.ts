import { validateSha } from "../commands/validate.js";
import { escapeHtml } from "../shared/format.js";
import type { OperationDefinition, OperationsDeps, PlanOutcome, RunContext, TargetHandle } from "./context.js";
import { countCommits, listCommits, startDeployment, verifyAndReadLive } from "./deploy.js";
import { commitsBetween, fetchRemote, readHead, resolveCommit } from "./git-state.js";
import { ReleaseFailedError, release, releaseSteps, restoreCheckout, short } from "./release.js";

export interface RollbackPlanData {
  sha: string;
  liveSha: string;
  /** What the user asked for, for the deployments row: "last deployment", "#12", "a1b2c3d". */
  label: string;
}

/** A deployment id as typed: `#12` or up to 6 digits (a 7+ digit number is read as a sha). */
const DEPLOYMENT_ID = /^#?([0-9]{1,6})$/;

export type RollbackTarget = { kind: "last" } | { kind: "deployment"; id: number } | { kind: "sha"; sha: string };

/** Reads `/rollback [sha|deployment id]`'s argument; null with a reason when it is neither. */
export function parseRollbackArg(arg: string | undefined): { ok: true; value: RollbackTarget } | { ok: false; reason: string } {
  if (arg === undefined) return { ok: true, value: { kind: "last" } };
  const id = DEPLOYMENT_ID.exec(arg);
  if (id) return { ok: true, value: { kind: "deployment", id: Number(id[1]) } };
  const sha = validateSha(arg);
  if (sha.ok) return { ok: true, value: { kind: "sha", sha: sha.value } };
  return { ok: false, reason: `${sha.reason}, or a deployment id like #12` };
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
  const lines = [
    `live <code>${short(live.sha)}</code> ${escapeHtml(live.subject)}`,
    `to   <code>${short(resolved)}</code>${because ? ` — ${escapeHtml(because)}` : ""}`,
  ];
  if (gone.length > 0) lines.push(`${countCommits(gone)} leave:`, ...listCommits(gone, "−"));
  if (back.length > 0) lines.push(`${countCommits(back)} come in:`, ...listCommits(back, "+"));
  lines.push("⚠ <b>The database is NOT restored</b>: migrations that ran since stay applied.");
  lines.push(`Steps: checkout · build · up -d · health${target.config.deploy.healthcheck.length > 0 ? ` (${escapeHtml(target.config.deploy.healthcheck.map((c) => c.url).join(", "))})` : ""}`);
  return {
    status: "planned",
    plan: {
      title: `↩ Rollback ${target.name} to ${short(resolved)}`,
      headline: `<code>${short(live.sha)}</code> → <code>${short(resolved)}</code>`,
      html: lines.join("\n"),
      lockReason: `rollback to ${short(resolved)}`,
      data: { sha: resolved, liveSha: live.sha, label },
    },
  };
}

/** The rollback run: the same checkout → build → up → health gate as a deploy, without operator steps. */
export const rollbackDefinition: OperationDefinition<RollbackPlanData> = {
  kind: "rollback",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const { sha, label } = ctx.plan.data;
    const c = ctx as RunContext<unknown>;
    ctx.steps.declare([{ id: "fetch", title: "fetch" }, ...releaseSteps(ctx.target, "", { operatorSteps: false })]);
    const previousSha = await verifyAndReadLive(c, sha, { fetchIfMissing: false });
    const deployment = await startDeployment(c, "rollback", label, sha, previousSha);
    const result = { deploymentId: deployment.id, sha, previousSha };
    try {
      await release(c, sha, "", { operatorSteps: false });
    } catch (err) {
      await ctx.deps.repos.deployments.finish(deployment.id, "failed", ctx.deps.clock.now());
      if (!(err instanceof ReleaseFailedError)) throw err;
      const state =
        err.phase === "before-up"
          ? `${(await restoreCheckout(c, previousSha)) ? `checkout back at <code>${short(previousSha)}</code>` : "⚠ checkout NOT restored"}; running containers untouched`
          : `⚠ ${short(sha)} may be partly up — check /status`;
      return { status: "failed", summary: `rollback failed at ${escapeHtml(err.step)}: ${state}`, result };
    }
    await ctx.deps.repos.deployments.finish(deployment.id, "succeeded", ctx.deps.clock.now());
    return { status: "succeeded", summary: `rolled back to <code>${short(sha)}</code> (database not restored)`, result };
  },
};
