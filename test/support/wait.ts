/**
 * Polls `probe` until it returns something other than `undefined`, and returns that. This waits
 * for a state change without guessing how long it takes: the bound is generous because a wait
 * that succeeds returns as soon as it can, and only a real hang pays the full bound.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
