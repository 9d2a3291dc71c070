import { composeProjectName, composeScale, composeSpec } from "../commands/compose.js";
import { formatDuration } from "../shared/format.js";
import { defineOperation, type PlanOutcome, type TargetHandle } from "./context.js";
import { StepFailedError } from "./errors.js";
import { waitUntilHealthy, type Probe } from "./health-gate.js";
import { isHealthy, unhealthyWord } from "../shared/containers.js";
import type { DockerApi } from "../shared/ports.js";

/** How long scaled containers get to be running (and healthy, where checked). */
export const SCALE_VERIFY_TIMEOUT_MS = 120_000;
const SCALE_TIMEOUT_MS = 600_000;

export interface ScalePlanData {
  service: string;
  replicas: number;
  /** Running when planned; null when Docker could not be asked. */
  before: number | null;
  bounds: { min: number; max: number } | null;
  verifyTimeoutMs: number;
}

/**
 * `/scale <service> <n>`: the service and n were validated against the config bounds before this
 * runs; the plan shows current → wanted.
 */
export async function planScale(target: TargetHandle, service: string, replicas: number): Promise<PlanOutcome<ScalePlanData>> {
  const bounds = target.config.services[service];
  let before: number | null = null;
  try {
    const containers = await target.ports.docker.listContainers(composeProjectName(target.config));
    before = containers.filter((c) => c.service === service && c.state === "running").length;
  } catch {
    before = null;
  }
  return {
    status: "planned",
    plan: {
      title: `📈 Scale ${service} on ${target.name} to ${replicas}`,
      lockReason: `scale ${service} to ${replicas}`,
      data: { service, replicas, before, bounds: bounds ? { min: bounds.min, max: bounds.max } : null, verifyTimeoutMs: SCALE_VERIFY_TIMEOUT_MS },
    },
  };
}

/** Exactly `replicas` containers of `service` exist, all running, and healthy where they have a healthcheck. */
export function replicasProbe(docker: DockerApi, project: string, service: string, replicas: number): Probe {
  return async () => {
    const mine = (await docker.listContainers(project)).filter((c) => c.service === service);
    const bad = mine.filter((c) => !isHealthy(c));
    const good = mine.length - bad.length;
    const detail = `${service} ${good}/${replicas} running${bad.length > 0 ? `, ${bad.length} other (${bad.map(unhealthyWord).join(", ")})` : ""}`;
    return { healthy: good === replicas && mine.length === replicas, detail };
  };
}

export const scaleDefinition = defineOperation<ScalePlanData>({
  kind: "scale",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const { service, replicas } = ctx.plan.data;
    const cfg = ctx.target.config;
    ctx.steps.declare([
      { id: "scale", title: `scale ${service}=${replicas}` },
      { id: "verify", title: "verify" },
    ]);
    await ctx.steps.run("scale", `scale ${service}=${replicas}`, async (io) => {
      await io.exec(composeScale(composeSpec(cfg), service, replicas), { timeoutMs: SCALE_TIMEOUT_MS });
    });
    const probe = replicasProbe(ctx.target.ports.docker, composeProjectName(cfg), service, replicas);
    const detail = await ctx.steps.run<string>("verify", "verify", async (io) => {
      const result = await waitUntilHealthy(probe, {
        timeoutMs: SCALE_VERIFY_TIMEOUT_MS,
        intervalMs: 1_000,
        clock: ctx.deps.clock,
        signal: ctx.signal,
        onAttempt: (r, attempt) => {
          io.note(`attempt ${attempt}: ${r.detail}`);
          ctx.note(`verify: ${r.detail}`);
        },
      });
      ctx.note(null);
      if (result.status === "unhealthy") throw new StepFailedError(`not ${replicas} running after ${formatDuration(result.elapsedMs)}: ${result.detail}`, io.output);
      return { summary: `${replicas}/${replicas} running`, value: result.detail };
    });
    return { status: "succeeded", summary: [detail], result: { service, replicas } };
  },
});
