import type { Clock } from "../shared/ports.js";
import { TimeoutError } from "./errors.js";

/**
 * Settles with the value, or with a {@link TimeoutError} after `ms` on `clock`; never hangs. The
 * clock's sleep is cancelled once the value is in, so nothing stays scheduled.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, clock: Clock): Promise<T> {
  const done = new AbortController();
  const timeout = clock.sleep(ms, done.signal).then(
    () => Promise.reject(new TimeoutError(what, ms)),
    () => new Promise<never>(() => {}),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    done.abort();
  }
}
