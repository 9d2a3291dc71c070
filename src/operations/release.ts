import { gitCheckoutDetached } from "../commands/git.js";
import { composeBuild, composeProjectName, composeSpec, composeUp } from "../commands/compose.js";
import { formatDuration } from "../shared/format.js";
import type { RunContext, TargetHandle } from "./context.js";
import { StepFailedError } from "./errors.js";
import { containersProbe, httpProbeFromBot, httpProbeFromTarget, waitUntilHealthy, type Probe } from "./health-gate.js";

/**
 * The shared path of /deploy and /rollback: put a commit live (checkout, build, operator steps, up)
 * and hold it to the health gate. Each piece is one progress step.
 */

/** Default health gate when opsgram.yml has no deploy.healthcheck: containers running and healthy. */
const DEFAULT_GATE_TIMEOUT_MS = 60_000;
const DEFAULT_GATE_INTERVAL_MS = 1_000;
const GIT_TIMEOUT_MS = 120_000;
const UP_TIMEOUT_MS = 600_000;

export const short = (sha: string) => sha.slice(0, 7);

/** The steps that put `sha` live, for the progress line (ids are prefixed on a rollback pass). */
export function releaseSteps(target: TargetHandle, prefix: "" | "rb-", options: { operatorSteps: boolean }): { id: string; title: string }[] {
  const mark = prefix ? "↩ " : "";
  return [
    { id: `${prefix}checkout`, title: `${mark}checkout` },
    { id: `${prefix}build`, title: `${mark}build` },
    ...(options.operatorSteps ? target.config.deploy.steps.map((s) => ({ id: `${prefix}step-${s.name}`, title: `${mark}${s.name}` })) : []),
    { id: `${prefix}up`, title: `${mark}up` },
    { id: `${prefix}health`, title: `${mark}health` },
  ];
}

/** Which steps have started changing what runs: from `up` on, a failure needs a rollback. */
export type ReleasePhase = "before-up" | "up-or-later";

export class ReleaseFailedError extends Error {
  override name = "ReleaseFailedError";
  constructor(readonly phase: ReleasePhase, readonly step: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * checkout → build → operator steps → up → health gate. Throws {@link ReleaseFailedError} naming
 * the phase so the caller knows whether the running containers were touched.
 */
export async function release(ctx: RunContext<unknown>, sha: string, prefix: "" | "rb-", options: { operatorSteps: boolean }): Promise<{ healthyAfterMs: number }> {
  const { target } = ctx;
  const spec = composeSpec(target.config);
  const mark = prefix ? "↩ " : "";
  let phase: ReleasePhase = "before-up";
  let current = "checkout";
  try {
    await ctx.steps.run(`${prefix}checkout`, `${mark}checkout`, async (io) => {
      await io.exec(gitCheckoutDetached(sha), { timeoutMs: GIT_TIMEOUT_MS });
      return { summary: `${mark}checkout ${short(sha)}` };
    });
    current = "build";
    await ctx.steps.run(`${prefix}build`, `${mark}build`, async (io) => {
      await io.exec(composeBuild(spec), { timeoutMs: target.config.deploy.buildTimeoutSeconds * 1000 });
      return { summary: `${mark}built` };
    });
    if (options.operatorSteps) {
      for (const step of target.config.deploy.steps) {
        current = step.name;
        await ctx.steps.run(`${prefix}step-${step.name}`, `${mark}${step.name}`, async (io) => {
          await io.execTrusted(step.run, `deploy.steps.${step.name}`, { timeoutMs: step.timeoutSeconds * 1000 });
        });
      }
    }
    current = "up";
    phase = "up-or-later";
    await ctx.steps.run(`${prefix}up`, `${mark}up`, async (io) => {
      await io.exec(composeUp(spec), { timeoutMs: UP_TIMEOUT_MS });
    });
    current = "health";
    const healthyAfterMs = await healthStep(ctx, `${prefix}health`, `${mark}health`);
    return { healthyAfterMs };
  } catch (err) {
    throw new ReleaseFailedError(phase, current, err);
  }
}

/** The health gate as a step: "healthy in 4.2 s", or a failure carrying every attempt. */
export async function healthStep(ctx: RunContext<unknown>, id: string, title: string): Promise<number> {
  const { target, deps } = ctx;
  const checks = target.config.deploy.healthcheck;
  // Every configured check must pass in the same look; none configured: the containers' own state.
  const probes: Probe[] = checks.map((check) =>
    check.from === "bot"
      ? httpProbeFromBot(deps.fetch ?? fetch, check.url, check.expectStatus)
      : httpProbeFromTarget(target.ports.shell, check.url, check.expectStatus),
  );
  const probe: Probe = probes.length === 0 ? containersProbe(target.ports.docker, composeProjectName(target.config)) : allOf(probes);
  const timeoutMs = checks.length > 0 ? Math.max(...checks.map((c) => c.timeoutSeconds)) * 1000 : DEFAULT_GATE_TIMEOUT_MS;
  const intervalMs = checks.length > 0 ? Math.min(...checks.map((c) => c.intervalSeconds)) * 1000 : DEFAULT_GATE_INTERVAL_MS;
  const what = checks.length > 0 ? checks.map((c) => `${c.url} → ${c.expectStatus}`).join(", ") : "containers running and healthy";
  const from = checks.length > 0 ? [...new Set(checks.map((c) => c.from))].join("+") : "docker";
  return ctx.steps.run<number>(id, title, async (io) => {
    io.note(`health gate: ${what} (from ${from}), up to ${formatDuration(timeoutMs)}`);
    const result = await waitUntilHealthy(probe, {
      timeoutMs,
      intervalMs,
      clock: deps.clock,
      signal: ctx.signal,
      onAttempt: (r, attempt) => {
        io.note(`attempt ${attempt}: ${r.detail}`);
        ctx.note(`${title}: ${r.detail} (attempt ${attempt})`);
      },
    });
    ctx.note(null);
    if (result.status === "unhealthy") {
      io.note(`unhealthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`);
      throw new StepFailedError(`not healthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`, io.output);
    }
    io.note(`healthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`);
    return { summary: `${title.startsWith("↩") ? "↩ " : ""}healthy in ${formatDuration(result.elapsedMs)}`, value: result.elapsedMs };
  });
}

/** Healthy when every probe is, asked in parallel; the detail names each one that is not. */
function allOf(probes: readonly Probe[]): Probe {
  if (probes.length === 1) return probes[0] as Probe;
  return async (timeoutMs) => {
    const results = await Promise.all(probes.map((p) => p(timeoutMs).catch((err: unknown) => ({ healthy: false, detail: err instanceof Error ? err.message : String(err) }))));
    return { healthy: results.every((r) => r.healthy), detail: results.map((r) => r.detail).join(" · ") };
  };
}

/** Puts the checkout back without touching containers (a failure before `up`). */
export async function restoreCheckout(ctx: RunContext<unknown>, sha: string): Promise<boolean> {
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
