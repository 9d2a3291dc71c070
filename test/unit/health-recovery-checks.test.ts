import { describe, expect, it } from "vitest";
import { drillHealth, lastBackupFailed, type RecoveryStates } from "../../src/health/recovery-checks.js";

const now = new Date("2026-11-22T12:00:00Z");
const ctx = { target: "prod", clock: { now: () => now, sleep: async () => {} }, isTargetChanging: () => false };
type Attempt = Awaited<ReturnType<RecoveryStates["lastAttempt"]>>;
type Drill = NonNullable<Awaited<ReturnType<RecoveryStates["lastDrill"]>>>;

function states(attempt: Attempt, drills: Drill[]): RecoveryStates {
  return {
    lastAttempt: async () => attempt,
    lastDrill: async (_t, ok) => [...drills].reverse().find((d) => ok === undefined || d.ok === ok) ?? null,
  };
}

describe("recovery health checks", () => {
  it("last backup: a failed attempt or a failed copy alerts; a good one recovers", async () => {
    const at = new Date("2026-11-22T03:00:00Z");
    const run = (a: Attempt) => lastBackupFailed(ctx, states(a, []), 60_000, null).run();
    expect(await run(null)).toEqual({ status: "ok" });
    expect(await run({ status: "failed", createdAt: at, error: "backup.command failed (exit 1)", copyError: null, path: null })).toEqual({
      status: "failed",
      error: "backup at 2026-11-22 03:00 UTC failed: backup.command failed (exit 1)",
    });
    expect(await run({ status: "succeeded", createdAt: at, error: null, copyError: "backup.copy exited 3", path: "/b/prod-1.dump" })).toMatchObject({
      status: "failed",
      error: expect.stringContaining("off-site copy of prod-1.dump failed"),
    });
    expect(await run({ status: "succeeded", createdAt: at, error: null, copyError: null, path: "/b/prod-1.dump" })).toEqual({ status: "ok" });
  });

  it("drills: none, failed, or too old alert; a recent good one is ok", async () => {
    const run = (drills: Drill[]) => drillHealth(ctx, states(null, drills), 8, 60_000, null).run();
    expect(await run([])).toMatchObject({ status: "failed", error: expect.stringContaining("no successful drill recorded") });
    const good = (days: number): Drill => ({ ok: true, startedAt: new Date(now.getTime() - days * 86_400_000), path: "/b/prod-1.dump", error: null });
    expect(await run([good(1)])).toEqual({ status: "ok" });
    expect(await run([good(9)])).toMatchObject({ status: "failed", error: expect.stringContaining("max age 8 d") });
    expect(await run([good(1), { ok: false, startedAt: now, path: "/b/prod-2.dump", error: "restore into scratch exited 1" }])).toMatchObject({
      status: "failed",
      error: expect.stringContaining("drill of prod-2.dump at 2026-11-22 12:00 UTC FAILED"),
    });
  });
});
