import { gitCheckoutDetached } from "../commands/git.js";
import { composeBuild, composeSpec, composeUp } from "../commands/compose.js";
import type { RichText } from "../shared/rich-text.js";
import type { RunContext, RunOutcome } from "./context.js";
import { fetchRemote, readHead, resolveCommit } from "./git-state.js";
import { healthGateStep } from "./health-step.js";
import { LeaseLostError } from "./lock.js";
import type { DeploymentKind } from "./model.js";
import type { StepIO } from "./steps.js";

/**
 * Putting a commit live, as data: a pass is a list of steps (checkout → build → operator steps →
 * up → health gate); /deploy runs a forward pass and, when the new version fails after `up`, a
 * rollback pass; /rollback runs one forward pass to an older commit. {@link runRelease} is the
 * frame both share: re-read the target, record the deployment row, run, close the row.
 */

const GIT_TIMEOUT_MS = 120_000;
const UP_TIMEOUT_MS = 600_000;

export const short = (sha: string) => sha.slice(0, 7);
export const code = (text: string) => ({ code: text });

/** Forward puts the requested commit live; rollback puts the previous one back (steps marked ↩). */
export type PassKind = "forward" | "rollback";

/** One step of a pass. `run` returns the done-summary shown in the progress line. */
export interface ReleaseStep {
  id: string;
  title: string;
  /** From this step on, what runs has changed: a failure needs a rollback, not just a checkout. */
  touchesContainers: boolean;
  run(io: StepIO): Promise<string | undefined>;
}

/** A pass failed at `step`; `touchedContainers` says whether the running containers were changed. */
export class PassFailedError extends Error {
  override name = "PassFailedError";
  constructor(readonly step: string, readonly touchedContainers: boolean, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * The replica counts /scale recorded for `services` (all configured services when absent), for
 * the `--scale` flags of an `up`: compose would otherwise reset them to the file's count.
 */
export async function recordedScale(ctx: Pick<RunContext, "deps" | "target">, services?: readonly string[]): Promise<Record<string, number>> {
  const recorded = await ctx.deps.repos.replicas.forTarget(ctx.target.name);
  const wanted = services ?? Object.keys(ctx.target.config.services);
  return Object.fromEntries(Object.entries(recorded).filter(([service]) => wanted.includes(service) && Object.hasOwn(ctx.target.config.services, service)));
}

/**
 * The steps that put `sha` live; operator steps (migrations …) only when asked (a deploy's forward
 * pass). With `deploy.services` only those are built and recreated (`up -d --no-deps a b`); verify
 * steps run after `up` and before the gate in forward passes (a failure there is an unhealthy deploy).
 */
export function releasePass(ctx: RunContext, kind: PassKind, sha: string, options: { operatorSteps: boolean; rollbackSteps?: boolean }): ReleaseStep[] {
  const { config } = ctx.target;
  const spec = composeSpec(config);
  const services = config.deploy.services;
  const mark = kind === "rollback" ? "↩ " : "";
  const step = (name: string, touchesContainers: boolean, run: ReleaseStep["run"], id = name): ReleaseStep => ({
    id: kind === "rollback" ? `rollback-${id}` : id,
    title: `${mark}${name}`,
    touchesContainers,
    run,
  });
  const operatorSteps = options.operatorSteps ? config.deploy.steps : [];
  const verifySteps = kind === "forward" ? config.deploy.verify : [];
  // deploy.rollbackSteps (down-migrations) run before the checkout: in the code being left, which
  // is the code that knows how to undo its own migrations.
  const downSteps = options.rollbackSteps ? config.deploy.rollbackSteps : [];
  return [
    ...downSteps.map((s) =>
      step(s.name, false, async (io) => {
        await io.execTrusted(s.run, `deploy.rollbackSteps.${s.name}`, { timeoutMs: s.timeoutSeconds * 1000 });
        return undefined;
      }, `down-${s.name}`),
    ),
    step("checkout", false, async (io) => {
      await io.exec(gitCheckoutDetached(sha), { timeoutMs: GIT_TIMEOUT_MS });
      return `${mark}checkout ${short(sha)}`;
    }),
    step("build", false, async (io) => {
      await io.exec(composeBuild(spec, services ?? []), { timeoutMs: config.deploy.buildTimeoutSeconds * 1000 });
      return `${mark}built`;
    }),
    ...operatorSteps.map((s) =>
      step(s.name, false, async (io) => {
        await io.execTrusted(s.run, `deploy.steps.${s.name}`, { timeoutMs: s.timeoutSeconds * 1000 });
        return undefined;
      }, `step-${s.name}`),
    ),
    step("up", true, async (io) => {
      const scale = await recordedScale(ctx, services);
      await io.exec(composeUp(spec, { scale, ...(services ? { services, noDeps: true } : {}) }), { timeoutMs: UP_TIMEOUT_MS });
      return undefined;
    }),
    ...verifySteps.map((s) =>
      step(`verify ${s.name}`, true, async (io) => {
        await io.execTrusted(s.run, `deploy.verify.${s.name}`, { timeoutMs: s.timeoutSeconds * 1000 });
        return undefined;
      }, `verify-${s.name}`),
    ),
    step("health", true, async (io) => `${mark}${await healthGateStep(ctx, io, `${mark}health`)}`),
  ];
}

/** Runs a pass step by step; throws {@link PassFailedError} naming the step that failed. */
export async function runPass(ctx: RunContext, steps: readonly ReleaseStep[]): Promise<void> {
  let touched = false;
  for (const step of steps) {
    touched ||= step.touchesContainers;
    try {
      await ctx.steps.run(step.id, step.title, async (io) => {
        const summary = await step.run(io);
        return summary ? { summary } : undefined;
      });
    } catch (err) {
      // A lost lease is not a failed step to roll back from: nothing more may run at all.
      if (ctx.signal.reason instanceof LeaseLostError) throw ctx.signal.reason;
      if (err instanceof LeaseLostError) throw err;
      throw new PassFailedError(step.title.replace(/^↩ /, ""), touched, err);
    }
  }
}

/** Puts the checkout back without touching containers (a failure before `up`). */
export async function restoreCheckout(ctx: RunContext, sha: string): Promise<boolean> {
  try {
    await ctx.steps.run("restore", `↩ checkout ${short(sha)}`, async (io) => {
      await io.exec(gitCheckoutDetached(sha), { timeoutMs: GIT_TIMEOUT_MS });
      return { summary: `↩ checkout ${short(sha)}` };
    });
    return true;
  } catch {
    return false;
  }
}

/** What a release run is: which commit, what to call it, and what to do when the pass fails. */
export interface ReleaseSpec {
  kind: DeploymentKind;
  /** What the deployments row calls it: the ref, or "undo #12". */
  label: string;
  sha: string;
  /** The commit may have arrived on the remote since planning (deploy), or must already be there (rollback). */
  fetchIfMissing: boolean;
  /** A step before the pass that changes nothing live (deploy's backup); its failure ends the run. */
  before?: { id: string; title: string; run(deploymentId: number): Promise<unknown>; failed: RichText };
  forward: (ctx: RunContext) => ReleaseStep[];
  succeeded: RichText;
  /** Decides the outcome when the pass failed, given what was live before. */
  onFailure(ctx: RunContext, err: PassFailedError, previousSha: string): Promise<Omit<RunOutcome, "result">>;
}

/**
 * The frame of /deploy and /rollback: fetch check, the deployment row, the pass, the row closed
 * with the outcome. Declares every step up front so the progress line shows what is still to come.
 */
export async function runRelease(ctx: RunContext, spec: ReleaseSpec): Promise<RunOutcome> {
  const forward = spec.forward(ctx);
  ctx.steps.declare([{ id: "fetch", title: "fetch" }, ...(spec.before ? [{ id: spec.before.id, title: spec.before.title }] : []), ...forward]);
  const previousSha = await verifyAndReadLive(ctx, spec.sha, spec.fetchIfMissing);
  const { repos, clock } = ctx.deps;
  const deployment = await repos.deployments.insert({
    operationId: ctx.op.id,
    target: ctx.target.name,
    kind: spec.kind,
    ref: spec.label,
    sha: spec.sha,
    previousSha,
    status: "running",
    requestedBy: ctx.op.requestedBy,
    requestedByName: ctx.op.requestedByName,
    startedAt: clock.now(),
  });
  const result = { deploymentId: deployment.id, sha: spec.sha, previousSha };
  const close = async (outcome: Omit<RunOutcome, "result">): Promise<RunOutcome> => {
    await repos.deployments.finish(deployment.id, outcome.status, clock.now());
    return { ...outcome, result };
  };
  if (spec.before) {
    try {
      await spec.before.run(deployment.id);
    } catch {
      return close({ status: "failed", summary: spec.before.failed });
    }
  }
  try {
    await runPass(ctx, forward);
  } catch (err) {
    if (!(err instanceof PassFailedError)) {
      await repos.deployments.finish(deployment.id, "failed", clock.now());
      throw err;
    }
    return close(await spec.onFailure(ctx, err, previousSha));
  }
  return close({ status: "succeeded", summary: spec.succeeded });
}

/** Re-reads the target at run time: the commit must exist, and what is live now is what a rollback returns to. */
async function verifyAndReadLive(ctx: RunContext, sha: string, fetchIfMissing: boolean): Promise<string> {
  return ctx.steps.run<string>("fetch", "fetch", async (io) => {
    let [found, live] = await Promise.all([resolveCommit(ctx.target, sha), readHead(ctx.target)]);
    if (!found && fetchIfMissing) {
      await fetchRemote(ctx.target);
      found = await resolveCommit(ctx.target, sha);
    }
    if (!found) throw new Error(`commit ${short(sha)} is no longer in the target's repository`);
    io.note(`live ${live.sha} ${live.subject}`);
    return { summary: "fetched", value: live.sha };
  });
}
