import { defineOperation, type PlanOutcome, type RunContext, type RunOutcome, type TargetHandle } from "./context.js";
import { StepFailedError } from "./errors.js";
import type { PayoutsState } from "./model.js";

/** The kill switch is quick: each command gets this long. */
const SWITCH_TIMEOUT_MS = 60_000;
/** Longest reason kept (it is stored and shown, never run). */
export const MAX_REASON_LENGTH = 200;

export interface PayoutsPlanData {
  pause: boolean;
  reason: string | null;
  /** The switch as opsgram last recorded it (`since` as ISO text: plans round-trip JSON). */
  current: { paused: boolean; byUserId?: number | null; byName: string | null; reason: string | null; since: string } | null;
  plannedAt: string;
}

/**
 * `/pause_payouts [reason]` / `/resume_payouts`: one tap at 3 a.m. — the plan is two lines. These do
 * not wait for the target lock: the kill switch must work while a deploy is running.
 */
export function planPayouts(target: TargetHandle, pause: boolean, reason: string | null, current: PayoutsState | null, now: Date): PlanOutcome<PayoutsPlanData> {
  if (!target.config.payouts) {
    return { status: "refused", reason: `No payouts switch is configured for ${target.name} (payouts.pause/resume/status in opsgram.yml).` };
  }
  return {
    status: "planned",
    plan: {
      title: pause ? `⏸ Pause payouts on ${target.name}` : `▶ Resume payouts on ${target.name}`,
      lockReason: pause ? "pause payouts" : "resume payouts",
      data: {
        pause,
        reason,
        current: current ? { paused: current.paused, byUserId: current.byUserId, byName: current.byName, reason: current.reason, since: current.since.toISOString() } : null,
        plannedAt: now.toISOString(),
      },
    },
  };
}

async function flip(ctx: RunContext<PayoutsPlanData>): Promise<RunOutcome> {
  const { pause, reason } = ctx.plan.data;
  const payouts = ctx.target.config.payouts;
  if (!payouts) throw new Error(`no payouts switch configured for ${ctx.target.name}`);
  const verb = pause ? "pause" : "resume";
  ctx.steps.declare([
    { id: verb, title: verb },
    { id: "verify", title: "verify" },
  ]);
  await ctx.steps.run(verb, verb, async (io) => {
    await io.execTrusted(pause ? payouts.pause : payouts.resume, `payouts.${verb}`, { timeoutMs: SWITCH_TIMEOUT_MS });
    return { summary: pause ? "paused" : "resumed" };
  });
  await ctx.steps.run("verify", "verify", async (io) => {
    const status = await io.execTrusted(payouts.status, "payouts.status", { timeoutMs: SWITCH_TIMEOUT_MS });
    const paused = status.stdout.trim().length > 0;
    if (paused !== pause) {
      throw new StepFailedError(`payouts.status says payouts are ${paused ? "still PAUSED" : "NOT paused"}`, io.output);
    }
    return { summary: pause ? "status: paused" : "status: running" };
  });
  const now = ctx.deps.clock.now();
  await ctx.deps.repos.payouts.set({
    target: ctx.target.name,
    paused: pause,
    // The requester gave the reason; the audit log has who confirmed.
    byUserId: ctx.op.requestedBy,
    byName: ctx.op.requestedByName,
    reason: pause ? reason : null,
    since: now,
  });
  return { status: "succeeded", summary: [pause ? `payouts PAUSED${reason ? `: ${reason}` : ""}` : "payouts resumed"] };
}

export const pausePayoutsDefinition = defineOperation<PayoutsPlanData>({ kind: "pause_payouts", usesLock: false, execute: flip });
export const resumePayoutsDefinition = defineOperation<PayoutsPlanData>({ kind: "resume_payouts", usesLock: false, execute: flip });
