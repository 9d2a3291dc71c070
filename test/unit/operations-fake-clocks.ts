/** Fake Clocks for unit tests: no test sleeps on a real timer. */
import type { Clock } from "../../src/shared/ports.js";

/** A clock that only moves when told to; sleeps resolve as time passes them. */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: { until: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Every sleep asked for, in ms (to assert back-off schedules). */
  readonly slept: number[] = [];
  constructor(start = Date.parse("2026-11-22T03:00:00Z")) {
    this.t = start;
  }
  now(): Date {
    return new Date(this.t);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.slept.push(ms);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = { until: this.t + ms, resolve, reject };
      this.sleepers.push(entry);
      signal?.addEventListener("abort", () => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(signal.reason);
      });
    });
  }
  /** Moves time forward, waking sleepers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = this.sleepers.filter((s) => s.until <= end).sort((a, b) => a.until - b.until)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.until);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.t = end;
    await flush();
  }
  get pendingSleeps(): number {
    return this.sleepers.length;
  }
}

/** A clock whose sleeps pass at once (time jumps): loops with waits run instantly. */
export class JumpClock implements Clock {
  constructor(public t = Date.parse("2026-11-22T03:00:00Z")) {}
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.t += ms;
    await Promise.resolve();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
