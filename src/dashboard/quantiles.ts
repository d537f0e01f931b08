/**
 * Quantiles estimated from histogram buckets, as Prometheus's histogram_quantile does.
 * Pure: no clock, no I/O.
 */
import type { HistogramValue } from "../telemetry";
import type { Quantiles } from "./types";

/**
 * The q-quantile of observations counted per bucket (`counts` not cumulative, last entry +Inf),
 * as Prometheus's histogram_quantile estimates it: find the bucket holding rank q × total and
 * interpolate linearly inside it, taking 0 as the first bucket's lower bound. A rank in the +Inf
 * bucket answers the highest finite bound (nothing better is known). null when empty.
 */
export function bucketQuantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0) || counts.length !== bounds.length + 1) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inBucket = counts[i]!;
    if (inBucket > 0 && below + inBucket >= rank) {
      if (i === bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * Math.max(0, (rank - below) / inBucket);
    }
    below += inBucket;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** Seconds to milliseconds, to the microsecond: finer digits are float noise, not measurement. */
export const toMs = (seconds: number | null): number | null => (seconds === null ? null : Math.round(seconds * 1e6) / 1e3);

/** p50/p95/p99 and mean, in milliseconds, of a histogram recorded in seconds. */
export function quantilesOf(bounds: readonly number[], h: HistogramValue | null): Quantiles {
  if (!h || h.count === 0) return { count: h?.count ?? 0, p50_ms: null, p95_ms: null, p99_ms: null, mean_ms: null };
  return {
    count: h.count,
    p50_ms: toMs(bucketQuantile(bounds, h.counts, 0.5)),
    p95_ms: toMs(bucketQuantile(bounds, h.counts, 0.95)),
    p99_ms: toMs(bucketQuantile(bounds, h.counts, 0.99)),
    mean_ms: toMs(h.sum / h.count),
  };
}

/** `a - b` bucket by bucket, never below 0 (a source that dropped out reads as no observations). */
export function subtractCounts(a: readonly number[], b: readonly number[]): number[] {
  return a.map((c, i) => Math.max(0, c - (b[i] ?? 0)));
}
