import { composeProjectName, composeScale, composeSpec } from "../commands/compose.js";
import { defineOperation, type PlanOutcome, type TargetHandle } from "./context.js";
import { type Probe } from "./health-gate.js";
import { verifyStep } from "./verify-step.js";
import { isHealthy, unhealthyWord } from "../shared/containers.js";
import type { DockerApi } from "../shared/ports.js";

/** How long scaled containers get to be running (and healthy, where checked). */
export const SCALE_VERIFY_TIMEOUT_MS = 120_000;
const SCALE_TIMEOUT_MS = 600_000;

/** One service's change in a /scale plan. */
export interface ScaleChange {
  service: string;
  replicas: number;
  /** Running when planned; null when Docker could not be asked. */
  before: number | null;
  bounds: { min: number; max: number } | null;
}

export interface ScalePlanData {
  /** The first change (kept for plans stored before /scale took several services). */
  service: string;
  replicas: number;
  before: number | null;
  bounds: { min: number; max: number } | null;
  /** Every service scaled, in the order typed; absent in plans stored before several were allowed. */
  changes?: ScaleChange[];
  verifyTimeoutMs: number;
}

/** The changes of a plan, whatever its age. */
export function scaleChanges(d: ScalePlanData): ScaleChange[] {
  return d.changes ?? [{ service: d.service, replicas: d.replicas, before: d.before, bounds: d.bounds }];
}

/**
 * `/scale <service> <n>` or `/scale api=2 worker=3`: services and counts were validated against
 * the config bounds before this runs; the plan shows current → wanted for each.
 */
export async function planScale(target: TargetHandle, wanted: readonly { service: string; replicas: number }[]): Promise<PlanOutcome<ScalePlanData>> {
  let running: Map<string, number> | null = null;
  try {
    const containers = await target.ports.docker.listContainers(composeProjectName(target.config));
    running = new Map();
    for (const c of containers) if (c.state === "running") running.set(c.service, (running.get(c.service) ?? 0) + 1);
  } catch {
    running = null;
  }
  const changes = wanted.map(({ service, replicas }) => {
    const bounds = target.config.services[service];
    return { service, replicas, before: running ? (running.get(service) ?? 0) : null, bounds: bounds ? { min: bounds.min, max: bounds.max } : null };
  });
  const first = changes[0]!;
  const words = changes.map((c) => `${c.service} to ${c.replicas}`).join(", ");
  return {
    status: "planned",
    plan: {
      title: changes.length === 1 ? `📈 Scale ${first.service} on ${target.name} to ${first.replicas}` : `📈 Scale ${changes.map((c) => `${c.service}=${c.replicas}`).join(" ")} on ${target.name}`,
      lockReason: `scale ${words}`,
      data: { ...first, changes, verifyTimeoutMs: SCALE_VERIFY_TIMEOUT_MS },
    },
  };
}

/** Exactly `replicas` containers of `service` exist, all running, and healthy where they have a healthcheck. */
export function replicasProbe(docker: DockerApi, project: string, service: string | Readonly<Record<string, number>>, replicas?: number): Probe {
  const wanted = typeof service === "string" ? { [service]: replicas ?? 0 } : service;
  return async () => {
    const all = await docker.listContainers(project);
    let healthy = true;
    const details: string[] = [];
    for (const [name, count] of Object.entries(wanted)) {
      const mine = all.filter((c) => c.service === name);
      const bad = mine.filter((c) => !isHealthy(c));
      const good = mine.length - bad.length;
      if (good !== count || mine.length !== count) healthy = false;
      details.push(`${name} ${good}/${count} running${bad.length > 0 ? `, ${bad.length} other (${bad.map(unhealthyWord).join(", ")})` : ""}`);
    }
    return { healthy, detail: details.join(" · ") };
  };
}

export const scaleDefinition = defineOperation<ScalePlanData>({
  kind: "scale",
  usesLock: true,
  changesContainers: true,
  async execute(ctx) {
    const changes = scaleChanges(ctx.plan.data);
    const counts = Object.fromEntries(changes.map((c) => [c.service, c.replicas]));
    const words = changes.map((c) => `${c.service}=${c.replicas}`).join(" ");
    const cfg = ctx.target.config;
    ctx.steps.declare([
      { id: "scale", title: `scale ${words}` },
      { id: "verify", title: "verify" },
    ]);
    await ctx.steps.run("scale", `scale ${words}`, async (io) => {
      await io.exec(composeScale(composeSpec(cfg), counts), { timeoutMs: SCALE_TIMEOUT_MS });
    });
    // Recorded once compose has acted, so the next deploy's `up` keeps these counts even when
    // verification below fails (the containers exist either way).
    const { repos, clock } = ctx.deps;
    await repos.replicas.set(changes.map((c) => ({ target: ctx.target.name, service: c.service, replicas: c.replicas, byUserId: ctx.confirmedBy.userId, operationId: ctx.op.id, at: clock.now() })));
    const probe = replicasProbe(ctx.target.ports.docker, composeProjectName(cfg), counts);
    const detail = await verifyStep(ctx, probe, {
      timeoutMs: SCALE_VERIFY_TIMEOUT_MS,
      failed: (elapsed, why) => `not ${changes.length === 1 ? changes[0]!.replicas : "all"} running after ${elapsed}: ${why}`,
      summary: `${changes.map((c) => `${c.service} ${c.replicas}/${c.replicas}`).join(" · ")} running`,
    });
    const first = changes[0]!;
    return { status: "succeeded", summary: [detail], result: { service: first.service, replicas: first.replicas, changes: counts } };
  },
});
