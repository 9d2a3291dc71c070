import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { BackupSchedules } from "../../src/operations/schedule.js";
import type { Clock } from "../../src/shared/ports.js";
import { FakeShell, alice, makeDeps, opsConfig } from "./operations-fakes.js";

/** A clock whose sleeps end only when the test moves time past them. */
class ManualClock implements Clock {
  private waiters: { at: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(public t: number) {}
  now() {
    return new Date(this.t);
  }
  sleep(ms: number, signal?: AbortSignal) {
    return new Promise<void>((resolve, reject) => {
      const w = { at: this.t + ms, resolve, reject };
      this.waiters.push(w);
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }
  /** Moves to `t` and wakes every sleeper due by then. */
  async advanceTo(t: number) {
    this.t = t;
    const due = this.waiters.filter((w) => w.at <= t);
    this.waiters = this.waiters.filter((w) => w.at > t);
    for (const w of due) w.resolve();
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
  get sleeping() {
    return this.waiters.length;
  }
}

function setup(clock: ManualClock) {
  const shell = new FakeShell((cmd) => (typeof cmd === "string" ? { code: 0, stdout: "opsgram-verified: closing line\nopsgram-size: 10\n" } : { code: 0 }));
  const env = makeDeps({ shell, clock, config: opsConfig({ backup: { command: "pg_dump", dir: "/b", format: "plain", schedule: "0 3 * * *" } }) });
  const ops = createOperations(env.deps);
  const schedules = new BackupSchedules({ operations: ops, config: env.deps.config, notifier: env.notifier, alertChatIds: [-100], log: env.deps.log, clock, retryMs: 30_000 });
  return { env, ops, schedules };
}

describe("backup schedules", () => {
  it("a scheduled backup runs at its minute (UTC), as opsgram (schedule), and is recorded", async () => {
    const clock = new ManualClock(Date.parse("2026-11-22T02:58:00Z"));
    const { env, schedules } = setup(clock);
    expect(schedules.nextRuns()).toEqual([{ target: "prod", kind: "backup", at: new Date("2026-11-22T03:00:00Z") }]);
    schedules.start();
    await clock.advanceTo(Date.parse("2026-11-22T02:59:59Z"));
    expect(env.repos.backups.rows).toHaveLength(0);
    await clock.advanceTo(Date.parse("2026-11-22T03:00:00Z"));
    await vi_waitFor(() => env.repos.backups.rows.length === 1);
    expect(env.repos.backups.rows[0]).toMatchObject({ status: "succeeded", createdAt: new Date("2026-11-22T03:00:00Z") });
    expect(env.audit.events.find((e) => e.action === "backup" && e.outcome === "requested")).toMatchObject({ username: "opsgram (schedule)", userId: 0 });
    await schedules.stop();
  });

  it("a busy target is not skipped: the chat is told, and the backup runs once the lock frees", async () => {
    const clock = new ManualClock(Date.parse("2026-11-22T03:00:00Z"));
    const { env, ops, schedules } = setup(clock);
    await ops.locks.freeze("prod", alice, "maintenance");
    const fired = schedules.fire("prod", "backup", new Date("2026-11-23T03:00:00Z"));
    await vi_waitFor(() => env.notifier.messages.length > 0);
    expect(env.notifier.messages[0]!.texts[0]).toMatch(/⏳ scheduled backup of prod waits: the target is busy \(freeze: maintenance\)/);
    expect(env.repos.backups.rows).toHaveLength(0);
    await ops.locks.unfreeze("prod");
    await clock.advanceTo(clock.t + 30_000);
    expect((await fired).status).toBe("started");
    expect(env.repos.backups.rows.map((b) => b.status)).toEqual(["succeeded"]);
  });
});

async function vi_waitFor(pred: () => boolean) {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setImmediate(r));
  expect(pred()).toBe(true);
}
