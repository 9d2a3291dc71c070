/**
 * "At most once per key per window", in memory. Used so that a flood of strangers writes a handful
 * of audit rows and refusal replies instead of one per message. Bounded: when more than `maxKeys`
 * keys are live, the oldest are evicted (a flood of distinct senders cannot grow memory without limit).
 */
export class RateWindow {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when `key` has not been let through within the window; records the pass. */
  tryPass(key: string, nowMs: number): boolean {
    const previous = this.last.get(key);
    if (previous !== undefined && nowMs - previous < this.windowMs) return false;
    this.last.delete(key);
    this.last.set(key, nowMs);
    if (this.last.size > this.maxKeys) this.evict(nowMs);
    return true;
  }

  private evict(nowMs: number): void {
    for (const [key, at] of this.last) {
      if (this.last.size <= this.maxKeys && nowMs - at < this.windowMs) break;
      this.last.delete(key);
    }
  }
}
