/** Throughput and latency percentiles of one measured phase. */
export type Summary = {
  requests: number;
  errors: number;
  seconds: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
};

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const round = (n: number, digits: number): number => (Number.isFinite(n) ? +n.toFixed(digits) : n);

export const summarise = (latencies: number[], seconds: number, errors: number): Summary => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds: round(seconds, 2),
    per_second: round(latencies.length / seconds, 1),
    p50_ms: round(percentile(sorted, 50), 2),
    p99_ms: round(percentile(sorted, 99), 2),
  };
};
