/** Summary statistics for benchmark samples. Pure, so the numbers in docs/BENCHMARKS.md are reproducible from raw samples. */

/** Nearest-rank percentile (p in 0..100) of already sorted samples; NaN when there are none. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** p50/p90/p99/max/mean of latency samples (ms). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    count: sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** Median of a few repeated measurements (e.g. one per round). */
export function median(values: readonly number[]): number {
  return percentileSorted([...values].sort((a, b) => a - b), 50);
}

/**
 * Latency of each request when replies can only be told apart by their chat: within a chat, the
 * k-th request is paired with the k-th reply (FIFO). The sum of latencies is exact whatever the
 * pairing; individual values are exact when a chat has one request in flight at a time, which the
 * benchmark arranges by spreading requests over enough chats.
 *
 * Returns null when some chat got a different number of replies than it was sent.
 */
export function fifoLatencies(
  sentAtByChat: ReadonlyMap<number, readonly number[]>,
  repliedAtByChat: ReadonlyMap<number, readonly number[]>,
): number[] | null {
  const latencies: number[] = [];
  for (const [chat, sent] of sentAtByChat) {
    const replied = repliedAtByChat.get(chat) ?? [];
    if (replied.length !== sent.length) return null;
    for (let i = 0; i < sent.length; i++) latencies.push(replied[i]! - sent[i]!);
  }
  return latencies;
}
