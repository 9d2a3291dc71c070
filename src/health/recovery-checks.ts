import type { CheckContext, PolledCheck } from "./checks.js";

/** What the recovery checks read (the backups repo satisfies it). */
export interface RecoveryStates {
  lastAttempt(target: string): Promise<{ status: string; createdAt: Date; error: string | null; copyError: string | null; path: string | null } | null>;
  lastDrill(target: string, ok?: boolean): Promise<{ ok: boolean; startedAt: Date; path: string | null; error: string | null } | null>;
}

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
const file = (path: string | null) => (path ? path.split("/").at(-1) : "?");

/**
 * The newest backup attempt failed (a scheduled one included), or its off-site copy did: an alert
 * until a later backup succeeds and copies. Texts are stable (no "ago") so the message is not
 * edited on every poll.
 */
export function lastBackupFailed(ctx: CheckContext, states: RecoveryStates, intervalMs: number, remindEveryMs: number | null): PolledCheck {
  return {
    key: { target: ctx.target, source: "backup", subject: "last" },
    intervalMs,
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs },
    async run() {
      const last = await states.lastAttempt(ctx.target);
      if (!last) return { status: "ok" };
      if (last.status === "failed") return { status: "failed", error: `backup at ${utc(last.createdAt)} failed: ${last.error ?? "unknown error"}` };
      if (last.copyError) return { status: "failed", error: `off-site copy of ${file(last.path)} failed: ${last.copyError} (the local file stays)` };
      return { status: "ok" };
    },
  };
}

/** A failed drill, or no successful drill within `maxAgeDays`: the backups may not restore. */
export function drillHealth(ctx: CheckContext, states: RecoveryStates, maxAgeDays: number, intervalMs: number, remindEveryMs: number | null): PolledCheck {
  return {
    key: { target: ctx.target, source: "backup", subject: "drill" },
    intervalMs,
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs },
    async run() {
      const last = await states.lastDrill(ctx.target);
      if (last && !last.ok) return { status: "failed", error: `drill of ${file(last.path)} at ${utc(last.startedAt)} FAILED: ${last.error ?? "?"} — this backup may not restore` };
      const good = last?.ok ? last : await states.lastDrill(ctx.target, true);
      if (!good) return { status: "failed", error: `no successful drill recorded (max age ${maxAgeDays} d): /backup drill` };
      if (ctx.clock.now().getTime() - good.startedAt.getTime() > maxAgeDays * 86_400_000) {
        return { status: "failed", error: `no successful drill since ${utc(good.startedAt)} (max age ${maxAgeDays} d)` };
      }
      return { status: "ok" };
    },
  };
}
