import type { Clock } from "../shared/ports.js";

/**
 * Timers on the Clock port, so unit tests drive them with a fake clock instead of really waiting.
 * Each returns a cancel function; a cancelled timer never fires.
 */

/** Runs `fn` once, `ms` from now. */
export function after(clock: Clock, ms: number, fn: () => void): () => void {
  const abort = new AbortController();
  clock.sleep(Math.max(0, ms), abort.signal).then(
    () => {
      if (!abort.signal.aborted) fn();
    },
    () => {},
  );
  return () => abort.abort();
}

/** Runs `fn` every `ms` (the first time `ms` from now) until cancelled. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  const abort = new AbortController();
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await clock.sleep(ms, abort.signal);
      } catch {
        return;
      }
      if (!abort.signal.aborted) fn();
    }
  })();
  return () => abort.abort();
}
