/**
 * An append-only list of things the bot did, with "take the next matching one" waiting.
 *
 * Why consumption instead of "wait for the next event after now": a test that sends a command and
 * then waits would otherwise race the bot — the reply may land before `waitFor…` is even called.
 * Here every record is handed out at most once, the oldest unconsumed match first, whether it
 * arrived before or after the call; records that did not match stay available to later waiters.
 */
export class RecordStream<T> {
  /** Everything recorded, oldest first. */
  readonly items: T[] = [];
  private readonly consumed: boolean[] = [];
  /** Everything before this index is consumed, so scans stay short on long runs. */
  private firstUnconsumed = 0;
  private readonly waiters = new Set<Waiter<T>>();

  push(item: T): void {
    const index = this.items.push(item) - 1;
    this.consumed.push(false);
    for (const waiter of this.waiters) {
      const verdict = test(waiter.match, item);
      if (verdict === false) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      if (verdict === true) {
        this.consume(index);
        waiter.resolve(item);
        return;
      }
      waiter.reject(verdict.error);
    }
  }

  /**
   * Resolves with the oldest unconsumed record that matches (now or later) and consumes it.
   * Rejects with `onTimeout()` after `timeoutMs`, or with the predicate's own error if it throws.
   */
  take(match: (item: T) => boolean, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    for (let index = this.firstUnconsumed; index < this.items.length; index++) {
      if (this.consumed[index]) continue;
      const item = this.items[index]!;
      const verdict = test(match, item);
      if (verdict === true) {
        this.consume(index);
        return Promise.resolve(item);
      }
      if (verdict !== false) return Promise.reject(verdict.error);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Fails every pending `take` (the emulator is stopping; nothing more will arrive). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.clear();
  }

  private consume(index: number): void {
    this.consumed[index] = true;
    while (this.firstUnconsumed < this.items.length && this.consumed[this.firstUnconsumed]) {
      this.firstUnconsumed++;
    }
  }
}

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/** A predicate that throws is a bug in the test: surface it instead of treating it as "no match". */
function test<T>(match: (item: T) => boolean, item: T): boolean | { error: unknown } {
  try {
    return match(item);
  } catch (error) {
    return { error };
  }
}
