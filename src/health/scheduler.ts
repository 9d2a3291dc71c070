import type { Logger } from "../infra/logger.js";
import type { Clock } from "../shared/ports.js";
import type { PolledCheck } from "./checks.js";
import type { Signal } from "./types.js";

/**
 * Runs each polled check in its own loop: run, report, sleep its interval. A slow check delays
 * only itself. Stopping aborts the sleeps; a check in flight finishes and is not reported.
 */
export class CheckScheduler {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly checks: readonly PolledCheck[],
    private readonly submit: (signal: Signal) => unknown,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loops = this.checks.map((check) => this.loop(check));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  /** Runs one check once and reports it (also used by tests). */
  async runOnce(check: PolledCheck): Promise<void> {
    let outcome;
    try {
      outcome = await check.run();
    } catch (err) {
      this.log.warn({ err, key: check.key }, "health check threw; counted as unknown");
      return;
    }
    if (this.abort.signal.aborted) return;
    const at = this.clock.now();
    const base = { key: check.key, at, policy: check.policy, ...(check.signal ? { signal: check.signal } : {}), ...(check.viaTarget ? { viaTarget: true } : {}) };
    if (outcome.status === "ok") await this.submit({ ...base, ok: true });
    else if (outcome.status === "failed") await this.submit({ ...base, ok: false, error: outcome.error });
    else this.log.debug({ key: check.key, reason: outcome.reason }, "health check could not look");
  }

  private async loop(check: PolledCheck): Promise<void> {
    while (!this.abort.signal.aborted) {
      await this.runOnce(check);
      try {
        await this.clock.sleep(check.intervalMs, this.abort.signal);
      } catch {
        return;
      }
    }
  }
}
