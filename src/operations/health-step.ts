import { composeProjectName } from "../commands/compose.js";
import { formatDuration } from "../shared/format.js";
import type { RunContext } from "./context.js";
import { StepFailedError } from "./errors.js";
import { containersProbe, httpProbeFromBot, httpProbeFromTarget, waitUntilHealthy, type Probe } from "./health-gate.js";
import type { StepIO } from "./steps.js";

/** Default health gate when opsgram.yml has no deploy.healthcheck: containers running and healthy. */
const DEFAULT_GATE_TIMEOUT_MS = 60_000;
const DEFAULT_GATE_INTERVAL_MS = 1_000;

/**
 * The health gate inside a step: the configured URL (asked from the target or the bot) or, without
 * one, the containers themselves. Returns "healthy in 4.2 s"; throws with every attempt in the
 * step's output when the deadline passes. `label` prefixes the live note ("↩ health: HTTP 502").
 */
export async function healthGateStep(ctx: RunContext, io: StepIO, label: string): Promise<string> {
  const { target, deps } = ctx;
  const check = target.config.deploy.healthcheck;
  const probe: Probe = check
    ? check.from === "bot"
      ? httpProbeFromBot(deps.fetch ?? fetch, check.url, check.expectStatus)
      : httpProbeFromTarget(target.ports.shell, check.url, check.expectStatus)
    : containersProbe(target.ports.docker, composeProjectName(target.config));
  const timeoutMs = check ? check.timeoutSeconds * 1000 : DEFAULT_GATE_TIMEOUT_MS;
  const intervalMs = check ? check.intervalSeconds * 1000 : DEFAULT_GATE_INTERVAL_MS;
  const what = check ? `${check.url} → ${check.expectStatus}` : "containers running and healthy";
  io.note(`health gate: ${what} (from ${check?.from ?? "docker"}), up to ${formatDuration(timeoutMs)}`);
  const result = await waitUntilHealthy(probe, {
    timeoutMs,
    intervalMs,
    clock: deps.clock,
    signal: ctx.signal,
    onAttempt: (r, attempt) => {
      io.note(`attempt ${attempt}: ${r.detail}`);
      ctx.note(`${label}: ${r.detail} (attempt ${attempt})`);
    },
  });
  ctx.note(null);
  if (result.status === "unhealthy") {
    io.note(`unhealthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`);
    throw new StepFailedError(`not healthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`, io.output);
  }
  io.note(`healthy after ${formatDuration(result.elapsedMs)}: ${result.detail}`);
  return `healthy in ${formatDuration(result.elapsedMs)}`;
}
