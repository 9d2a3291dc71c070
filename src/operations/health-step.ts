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
  const checks = target.config.deploy.healthcheck;
  // Every configured check must pass in the same look; none configured: the containers' own state.
  const probes: Probe[] = checks.map((check) =>
    check.from === "bot"
      ? httpProbeFromBot(deps.fetch ?? fetch, check.url, check)
      : httpProbeFromTarget(target.ports.shell, check.url, check),
  );
  const probe: Probe = probes.length === 0 ? containersProbe(target.ports.docker, composeProjectName(target.config)) : allOf(probes);
  const timeoutMs = checks.length > 0 ? Math.max(...checks.map((c) => c.timeoutSeconds)) * 1000 : DEFAULT_GATE_TIMEOUT_MS;
  const intervalMs = checks.length > 0 ? Math.min(...checks.map((c) => c.intervalSeconds)) * 1000 : DEFAULT_GATE_INTERVAL_MS;
  const what = checks.length > 0 ? checks.map(describeCheck).join(", ") : "containers running and healthy";
  const from = checks.length > 0 ? [...new Set(checks.map((c) => c.from))].join("+") : "docker";
  io.note(`health gate: ${what} (from ${from}), up to ${formatDuration(timeoutMs)}`);
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

/** "http://…/health → 200 with "status":"UP"": never the header values (secrets). */
export function describeCheck(c: { url: string; expectStatus: number; expectBodyContains?: string | undefined; expectBodyMatches?: string | undefined }): string {
  const body = c.expectBodyContains !== undefined ? ` containing ${JSON.stringify(c.expectBodyContains)}` : c.expectBodyMatches !== undefined ? ` matching /${c.expectBodyMatches}/` : "";
  return `${c.url} → ${c.expectStatus}${body}`;
}

/** Healthy when every probe is, asked in parallel; the detail names each one that is not. */
function allOf(probes: readonly Probe[]): Probe {
  if (probes.length === 1) return probes[0] as Probe;
  return async (timeoutMs) => {
    const results = await Promise.all(
      probes.map((p) => p(timeoutMs).catch((err: unknown) => ({ healthy: false, detail: err instanceof Error ? err.message : String(err) }))),
    );
    return { healthy: results.every((r) => r.healthy), detail: results.map((r) => r.detail).join(" · ") };
  };
}
