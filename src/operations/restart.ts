import { composeProjectName, composeRestart, composeSpec } from "../commands/compose.js";
import { isHealthy, unhealthyWord } from "../shared/containers.js";
import type { DockerApi } from "../shared/ports.js";
import { defineOperation, type PlanOutcome, type TargetHandle } from "./context.js";
import { type Probe } from "./health-gate.js";
import { verifyStep } from "./verify-step.js";

/**
 * `/restart <service> [target]` (runbook 001: "a 502 means restart app"; 003: restart Redis):
 * `compose restart <service>` in place — same containers, same replica count, no `up`, so nothing
 * can reset the scale. Verified through the Docker API: every container of the service started
 * again after we asked, is running, and healthy where it has a healthcheck. The runner holds an
 * expected-change registration meanwhile, so our own restart raises no alert.
 */

export const RESTART_VERIFY_TIMEOUT_MS = 120_000;
const RESTART_TIMEOUT_MS = 300_000;

export interface RestartPlanData {
  service: string;
  /** Containers of the service when planned; null when Docker could not be asked. */
  containers: number | null;
  verifyTimeoutMs: number;
}

export async function planRestart(target: TargetHandle, service: string): Promise<PlanOutcome<RestartPlanData>> {
  let containers: number | null = null;
  try {
    containers = (await target.ports.docker.listContainers(composeProjectName(target.config))).filter((c) => c.service === service).length;
  } catch {
    containers = null;
  }
  if (containers === 0) return { status: "refused", reason: `${service} has no containers on ${target.name}; nothing to restart (a /deploy starts it).` };
  return {
    status: "planned",
    plan: {
      title: `🔄 Restart ${service} on ${target.name}`,
      lockReason: `restart ${service}`,
      data: { service, containers, verifyTimeoutMs: RESTART_VERIFY_TIMEOUT_MS },
    },
  };
}

/** Every container of `service` started after `since`, is running and (where checked) healthy. */
export function restartedProbe(docker: DockerApi, project: string, service: string, since: Date): Probe {
  return async () => {
    const mine = (await docker.listContainers(project)).filter((c) => c.service === service);
    if (mine.length === 0) return { healthy: false, detail: `${service}: no containers` };
    const stale = mine.filter((c) => !c.startedAt || c.startedAt.getTime() < since.getTime() - 1_000);
    const bad = mine.filter((c) => !isHealthy(c));
    const good = mine.length - bad.length;
    const why = [...(bad.length > 0 ? [bad.map(unhealthyWord).join(", ")] : []), ...(stale.length > 0 ? [`${stale.length} not restarted yet`] : [])];
    return { healthy: bad.length === 0 && stale.length === 0, detail: `${service} ${good}/${mine.length} running${why.length ? ` (${why.join("; ")})` : ""}` };
  };
}

export const restartDefinition = defineOperation<RestartPlanData>({
  kind: "restart",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const { service } = ctx.plan.data;
    const cfg = ctx.target.config;
    ctx.steps.declare([
      { id: "restart", title: `restart ${service}` },
      { id: "verify", title: "verify" },
    ]);
    // Docker's clock, not ours, stamps StartedAt: a restarted container started after the newest start seen before.
    const before = (await ctx.target.ports.docker.listContainers(composeProjectName(cfg))).filter((c) => c.service === service);
    const mark = new Date(Math.max(0, ...before.map((c) => (c.startedAt?.getTime() ?? 0) + 1_001)));
    await ctx.steps.run("restart", `restart ${service}`, async (io) => {
      await io.exec(composeRestart(composeSpec(cfg), service), { timeoutMs: RESTART_TIMEOUT_MS });
    });
    const probe = restartedProbe(ctx.target.ports.docker, composeProjectName(cfg), service, mark);
    const detail = await verifyStep(ctx, probe, {
      timeoutMs: RESTART_VERIFY_TIMEOUT_MS,
      failed: (elapsed, why) => `not running again after ${elapsed}: ${why}`,
      summary: `${service} running`,
    });
    return { status: "succeeded", summary: [`restarted ${service}: ${detail}`], result: { service } };
  },
});
