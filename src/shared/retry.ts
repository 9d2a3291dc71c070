import type { Clock } from "./ports.js";

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubles after each failure. */
  baseDelayMs: number;
  /** Ceiling for one wait. */
  maxDelayMs: number;
  clock: Clock;
  /** Whether an error is worth another try. Default: every error. */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/** Every try failed; `cause` is the last error. */
export class RetriesExhaustedError extends Error {
  override readonly name = "RetriesExhaustedError";
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Runs `fn` until it succeeds, at most `attempts` times, waiting base · 2^n ms (capped) between
 * tries on the Clock, so tests run it on a fake clock without real sleeps. Bounded on purpose: an
 * audit write after the remote work succeeded deserves a few more tries, not an endless loop that
 * holds the operation (and its lock) hostage to a database that is gone.
 */
export async function retryBounded<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.trunc(options.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      // An error no retry can fix (bad data) goes up as it is.
      if (!(options.retryable?.(err) ?? true)) throw err;
      if (attempt >= attempts) throw new RetriesExhaustedError(attempt, err);
      const delay = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      options.onRetry?.(err, attempt, delay);
      await options.clock.sleep(delay, options.signal);
    }
  }
}
