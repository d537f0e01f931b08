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
/** Dollars per thousand tokens over the same five minutes: a few strikes per pool need that long. */
export const UNIT_COST_WINDOW_MS = UTILISATION_WINDOW_MS;

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

/**
 * Dollars per thousand tokens by key over a window: cost grown ÷ tokens grown. null where no
 * tokens were processed, where a reading lacks tokens by key (older than this version), or where a
 * key new to a capped reading may have been inside OTHER at the start (its growth is unknown).
 */
function unitCost(now: Record<string, number>, nowTokens: Record<string, number> | undefined, before: Record<string, number>, beforeTokens: Record<string, number> | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (!nowTokens) return out;
  for (const k of Object.keys(nowTokens)) {
    const tokensUnknown = !beforeTokens || (OTHER in beforeTokens && !(k in beforeTokens));
    const costUnknown = OTHER in before && !(k in before) && k in now;
    if (tokensUnknown || costUnknown) {
      out[k] = null;
      continue;
    }
    const tokens = grew(nowTokens[k]!, beforeTokens[k]);
    out[k] = tokens > 0 ? (grew(now[k] ?? 0, before[k]) / tokens) * 1000 : null;
  }
  return out;
}

/** The upstream's GPU gauges of a reading, by pool: mean utilisation, and memory used ÷ granted. */
function upstreamGpu(r: Reading): { util: Record<string, number | null>; memory: Record<string, number | null> } {
  const util: Record<string, number | null> = {};
  const memory: Record<string, number | null> = {};
  for (const [pool, g] of Object.entries(r.gpu ?? {})) {
    util[pool] = g.util;
    memory[pool] = g.alloc_b > 0 ? g.used_b / g.alloc_b : null;
  }
  return { util, memory };
}

/** End-to-end latency over a window; null when the window starts at a reading from before it was kept. */
function requestQuantile(now: Reading, start: Reading, q: number): number | null {
  return start.request === undefined ? null : windowQuantile(now.request ?? null, start.request ?? null, q);
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
  const unit = windowStart(readings, i, UNIT_COST_WINDOW_MS);
  const gpu = upstreamGpu(now);
  const failures = now.upstream_failures ?? {};
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
    request_p50_ms: requestQuantile(now, lat, 0.5),
    request_p95_ms: requestQuantile(now, lat, 0.95),
    request_p99_ms: requestQuantile(now, lat, 0.99),
    allocation_p50_ms: windowQuantile(now.allocation, lat.allocation, 0.5),
    allocation_p95_ms: windowQuantile(now.allocation, lat.allocation, 0.95),
    usd_per_1k_tokens: {
      pool: unitCost(now.cost.pool, now.tokens_by?.pool, unit.cost.pool, unit.tokens_by?.pool),
      model: unitCost(now.cost.model, now.tokens_by?.model, unit.cost.model, unit.tokens_by?.model),
    },
    // A reading from before failures were kept by operation has no baseline: no rate from it.
    upstream_failures_per_min: prev.upstream_failures ? Object.fromEntries(Object.keys(failures).map((k) => [k, grew(failures[k]!, prev.upstream_failures![k]) / minutes])) : {},
    utilisation,
    upstream_utilisation: gpu.util,
    memory_used_ratio: gpu.memory,
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
