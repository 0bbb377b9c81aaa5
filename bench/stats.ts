// Summary statistics of a sample of durations. Percentiles use the nearest-rank method (no interpolation), so
// every reported value is one that was actually measured; with n = 20, p99 is the maximum.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly median: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending-sorted, non-empty sample: the ceil(p/100 · n)-th value. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of an empty sample");
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** min / median / p99 / max of `values`; undefined for an empty sample. */
export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0]!,
    median: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

/** Seconds with three decimals, from milliseconds. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}
