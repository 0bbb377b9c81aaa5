// Percentiles of measured durations (benchmarks, drills, chaos runs). Nearest-rank, no interpolation: every
// reported value was actually measured; with n = 20, p99 is the maximum.

/** The ceil(p/100 · n)-th smallest value of a non-empty sample (any order). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of an empty sample");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}
