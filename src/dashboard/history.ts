/**
 * History for the dashboard's charts: points computed from the stored readings (see
 * src/telemetry/readings.ts), each from the difference between two readings. Pure: no clock, no I/O.
 */
import { OTHER, READING_SPACING_MS, type HistogramReading, type Reading } from "../telemetry";
import { bucketQuantile, subtractCounts, toMs } from "./quantiles";
import type { SpendSplit, TrendPoint } from "./types";

/** Error rate and latency percentiles are computed over this trailing window. */
export const LATENCY_WINDOW_MS = 60_000;
/** Utilisation too, but longer: leases book their busy and held seconds only when released. */
export const UTILISATION_WINDOW_MS = 5 * 60_000;

// Counters only grow while every source answers, and only complete collections are stored; a
// drop can still come from a key moving into OTHER or a mixed deploy, and reads as no change.
const grew = (now: number, before: number | undefined) => Math.max(0, now - (before ?? 0));

function perMinuteByKey(now: Record<string, number>, before: Record<string, number>, minutes: number): Record<string, number> {
  // A key new to a capped reading may have been inside OTHER before: its growth is unknown.
  const capped = OTHER in before;
  return Object.fromEntries(
    Object.keys(now).map((k) => [k, k in before || !capped ? grew(now[k]!, before[k]) / minutes : 0]),
  );
}

function windowQuantile(now: HistogramReading | null, before: HistogramReading | null, q: number): number | null {
  if (!now) return null;
  const sameShape = before && before.bounds.length === now.bounds.length && before.bounds.every((b, i) => b === now.bounds[i]);
  const counts = sameShape ? subtractCounts(now.counts, before.counts) : before ? null : now.counts;
  if (!counts) return null;
  return toMs(bucketQuantile(now.bounds, counts, q));
}

/** The latest reading at least `windowMs` older than readings[i], else the oldest there is. */
function windowStart(readings: readonly Reading[], i: number, windowMs: number): Reading {
  const cutoff = readings[i]!.t - windowMs;
  for (let j = i - 1; j >= 0; j--) if (readings[j]!.t <= cutoff) return readings[j]!;
  return readings[0]!;
}

/** The history point for readings[i] (i ≥ 1), from its predecessor and its trailing windows. */
export function trendPoint(readings: readonly Reading[], i: number): TrendPoint {
  const now = readings[i]!;
  const prev = readings[i - 1]!;
  const minutes = Math.max(now.t - prev.t, 1) / 60_000;
  const lat = windowStart(readings, i, LATENCY_WINDOW_MS);
  const util = windowStart(readings, i, UTILISATION_WINDOW_MS);
  const okInWindow = grew(now.strikes_ok, lat.strikes_ok);
  const errInWindow = grew(now.strikes_error, lat.strikes_error);
  const spendBy: SpendSplit = {
    tenant: perMinuteByKey(now.cost.tenant, prev.cost.tenant, minutes),
    model: perMinuteByKey(now.cost.model, prev.cost.model, minutes),
    pool: perMinuteByKey(now.cost.pool, prev.cost.pool, minutes),
  };
  const utilisation: Record<string, number | null> = {};
  for (const pool of Object.keys(now.held_s)) {
    const held = grew(now.held_s[pool]!, util.held_s[pool]);
    utilisation[pool] = held > 0 ? Math.min(1, grew(now.busy_s[pool] ?? 0, util.busy_s[pool]) / held) : null;
  }
  return {
    t: now.t,
    interval_s: (now.t - prev.t) / 1000,
    strikes_per_min: (grew(now.strikes_ok, prev.strikes_ok) + grew(now.strikes_error, prev.strikes_error)) / minutes,
    errors_per_min: grew(now.strikes_error, prev.strikes_error) / minutes,
    error_rate: okInWindow + errInWindow > 0 ? errInWindow / (okInWindow + errInWindow) : null,
    tokens_per_min: grew(now.tokens, prev.tokens) / minutes,
    spend_usd_per_min: Object.values(spendBy.pool).reduce((a, b) => a + b, 0),
    spend_by: spendBy,
    inference_p50_ms: windowQuantile(now.inference, lat.inference, 0.5),
    inference_p95_ms: windowQuantile(now.inference, lat.inference, 0.95),
    inference_p99_ms: windowQuantile(now.inference, lat.inference, 0.99),
    allocation_p50_ms: windowQuantile(now.allocation, lat.allocation, 0.5),
    allocation_p95_ms: windowQuantile(now.allocation, lat.allocation, 0.95),
    utilisation,
    leases: now.leases,
    in_flight: now.in_flight,
    queue_depth: now.queue_depth,
    breakers_tripped: now.breakers_tripped,
  };
}

/** History points for every reading after the first, keeping those later than `since`. */
export function trendOf(readings: readonly Reading[], since = -Infinity): TrendPoint[] {
  const out: TrendPoint[] = [];
  for (let i = 1; i < readings.length; i++) if (readings[i]!.t > since) out.push(trendPoint(readings, i));
  return out;
}

/** How far back readings must be loaded to compute the points after `since` exactly. */
export function readingsNeededFrom(since: number): number {
  return since - UTILISATION_WINDOW_MS - READING_SPACING_MS;
}
