import { describe, expect, it } from "vitest";
import { digestText, msUntilHour, scheduleDaily } from "../../src/infra/db/audit-digests.js";
import type { Clock } from "../../src/shared/ports.js";

const silent = { error() {} } as unknown as import("pino").Logger;

/** A clock whose sleeps end only when the test advances time past them. */
function fakeClock(start: string): Clock & { advanceTo(iso: string): Promise<void>; sleeping(): number } {
  let now = new Date(start).getTime();
  const sleepers: { until: number; resolve(): void }[] = [];
  return {
    now: () => new Date(now),
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        const entry = { until: now + ms, resolve };
        sleepers.push(entry);
        signal?.addEventListener("abort", () => {
          sleepers.splice(sleepers.indexOf(entry), 1);
          reject(new Error("aborted"));
        });
      });
    },
    async advanceTo(iso) {
      now = new Date(iso).getTime();
      for (const s of [...sleepers]) {
        if (s.until <= now) {
          sleepers.splice(sleepers.indexOf(s), 1);
          s.resolve();
        }
      }
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
    sleeping: () => sleepers.length,
  };
}

describe("daily audit digest schedule", () => {
  it("msUntilHour finds the next whole hour in UTC, tomorrow once it has passed", () => {
    expect(msUntilHour(new Date("2026-11-26T07:30:00Z"), 8)).toBe(30 * 60_000);
    expect(msUntilHour(new Date("2026-11-26T08:00:00Z"), 8)).toBe(24 * 3_600_000);
    expect(msUntilHour(new Date("2026-11-26T23:59:59.500Z"), 0)).toBe(500);
    expect(msUntilHour(new Date("2026-12-31T09:00:00Z"), 8)).toBe(23 * 3_600_000); // across the year
  });

  it("runs once a day at the hour, survives a failed run, and stops", async () => {
    const clock = fakeClock("2026-11-26T07:00:00Z");
    const runs: string[] = [];
    const schedule = scheduleDaily(8, async () => {
      runs.push(clock.now().toISOString());
      if (runs.length === 1) throw new Error("chat down");
    }, clock, silent);
    await clock.advanceTo("2026-11-26T07:59:59Z");
    expect(runs).toEqual([]);
    await clock.advanceTo("2026-11-26T08:00:00Z");
    await clock.advanceTo("2026-11-27T08:00:00Z");
    expect(runs).toEqual(["2026-11-26T08:00:00.000Z", "2026-11-27T08:00:00.000Z"]);
    schedule.stop();
    await clock.advanceTo("2026-11-28T08:00:00Z");
    expect(runs).toHaveLength(2);
    expect(clock.sleeping()).toBe(0);
  });

  it("formats the digest as documented", () => {
    expect(digestText({ rowCount: 12345, hash: "ab".repeat(32) })).toBe(`🔏 audit digest: rows 1–12,345 · head ${"ab".repeat(32)}`);
  });
});
