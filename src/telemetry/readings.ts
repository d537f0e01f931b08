/**
 * Readings: compact copies of the deployment's merged counters (and current gauges) at one
 * moment, kept by the MetricsIndex in a bounded ring so that history survives between page loads
 * without a time-series database. Rates come later from differences between two readings, the
 * way Prometheus's `rate()` works, so a reading never depends on the one before it.
 * `readingOf` and `parseReadings` are pure; `storeReading` is the one call to the index.
 */
import { EDGE, M } from "./metrics";
import type { MetricsIndex } from "./metrics-index";
import type { HistogramValue, Snapshot } from "./registry";
import { addHistograms, bucketsOf, rowsOf, sumBy } from "./snapshot-read";

/** Readings are stored at most this often, however many dashboards and scrapes ask. */
export const READING_SPACING_MS = 5_000;
/** ...and kept this long: 720 readings at most. */
export const READING_RETENTION_MS = 60 * 60_000;
/** Cost split keys kept per reading; the rest are added up under OTHER so readings stay small. */
export const SPLIT_KEYS = 12;
export const OTHER = "(other)";
/**
 * Bumped when the shape changes incompatibly; readings of another version are ignored. Fields
 * added since (marked optional below) leave it alone: a reading without them reads as "not
 * measured then", so the hour of history kept through an upgrade stays.
 */
export const READING_VERSION = 1;

export interface HistogramReading {
  bounds: number[];
  /** Cumulative observations per bucket, the last one +Inf. */
  counts: number[];
}

export interface Reading {
  v: number;
  /** Unix ms. */
  t: number;
  strikes_ok: number;
  strikes_error: number;
  tokens: number;
  /** Cumulative dollars by tenant, model and pool. */
  cost: { tenant: Record<string, number>; model: Record<string, number>; pool: Record<string, number> };
  /** Every inference / allocation, all pools and models added up; null before the first. */
  inference: HistogramReading | null;
  allocation: HistogramReading | null;
  /** Every answered request's end-to-end time, all pools and models added up. */
  request?: HistogramReading | null;
  /** Cumulative tokens (prompt and completion) by model and pool, capped as cost is. */
  tokens_by?: { model: Record<string, number>; pool: Record<string, number> };
  /** Cumulative failed upstream calls by `<operation> <kind>`. */
  upstream_failures?: Record<string, number>;
  /** Hosted.AI's own readings of live leases at `t`, by pool: mean utilisation, memory used and granted. */
  gpu?: Record<string, { util: number | null; used_b: number; alloc_b: number }>;
  /** Cumulative seconds released leases were busy / held, by pool. */
  busy_s: Record<string, number>;
  held_s: Record<string, number>;
  /** Gauges at `t`. */
  leases: Record<string, number>;
  in_flight: number;
  queue_depth: number;
  breakers_tripped: number;
}

/** The largest SPLIT_KEYS entries as they are, the rest summed under OTHER. */
function capKeys(m: Map<string, number>): Record<string, number> {
  const sorted = [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const out: Record<string, number> = Object.fromEntries(sorted.slice(0, SPLIT_KEYS));
  if (sorted.length > SPLIT_KEYS) out[OTHER] = (out[OTHER] ?? 0) + sorted.slice(SPLIT_KEYS).reduce((n, [, v]) => n + v, 0);
  return out;
}

/** The upstream's GPU gauges by pool (the merged snapshot's, with the edge's mean utilisation). */
function gpuByPool(snap: Snapshot): NonNullable<Reading["gpu"]> {
  const util = new Map(rowsOf<number>(snap, EDGE.gpuUtilization).map((r) => [poolOf(r.labels), r.value]));
  const used = sumBy(rowsOf<number>(snap, M.gpuMemoryUsedBytes), poolOf);
  const alloc = sumBy(rowsOf<number>(snap, M.gpuMemoryAllocatedBytes), poolOf);
  const pools = new Set([...util.keys(), ...used.keys(), ...alloc.keys()]);
  return Object.fromEntries([...pools].map((p) => [p, { util: util.get(p) ?? null, used_b: used.get(p) ?? 0, alloc_b: alloc.get(p) ?? 0 }]));
}

function histogramReading(snap: Snapshot, def: typeof M.inferenceSeconds): HistogramReading | null {
  const total = addHistograms(rowsOf<HistogramValue>(snap, def).map((r) => r.value));
  return total ? { bounds: [...bucketsOf(snap, def)], counts: total.counts } : null;
}

const sumAll = (snap: Snapshot, def: typeof M.inFlight) => rowsOf<number>(snap, def).reduce((n, r) => n + r.value, 0);
const poolOf = (l: Record<string, string>) => l.pool || "(none)";

/** The reading of a merged snapshot taken at `t`. */
export function readingOf(snap: Snapshot, t: number): Reading {
  const strikes = sumBy(rowsOf<number>(snap, M.strikes), (l) => l.outcome ?? "");
  const cost = rowsOf<number>(snap, M.costUsd);
  const tokens = rowsOf<number>(snap, M.tokens);
  return {
    v: READING_VERSION,
    t,
    strikes_ok: strikes.get("ok") ?? 0,
    strikes_error: strikes.get("error") ?? 0,
    tokens: sumAll(snap, M.tokens),
    cost: {
      tenant: capKeys(sumBy(cost, (l) => l.tenant ?? "")),
      model: capKeys(sumBy(cost, (l) => l.model ?? "")),
      pool: capKeys(sumBy(cost, poolOf)),
    },
    inference: histogramReading(snap, M.inferenceSeconds),
    allocation: histogramReading(snap, M.allocationSeconds),
    request: histogramReading(snap, M.requestSeconds),
    tokens_by: { model: capKeys(sumBy(tokens, (l) => l.model ?? "")), pool: capKeys(sumBy(tokens, poolOf)) },
    upstream_failures: Object.fromEntries(sumBy(rowsOf<number>(snap, M.upstreamFailures), (l) => `${l.operation ?? ""} ${l.kind ?? ""}`)),
    gpu: gpuByPool(snap),
    busy_s: Object.fromEntries(sumBy(rowsOf<number>(snap, M.leaseBusySeconds), poolOf)),
    held_s: Object.fromEntries(sumBy(rowsOf<number>(snap, M.leaseHeldSeconds), poolOf)),
    leases: Object.fromEntries(sumBy(rowsOf<number>(snap, M.liveLeases), poolOf)),
    in_flight: sumAll(snap, M.inFlight),
    queue_depth: sumAll(snap, M.queueDepth),
    breakers_tripped: rowsOf<number>(snap, M.breakerState).filter((r) => r.value > 0).length,
  };
}

/** Parses stored readings, oldest first, dropping any this version cannot read. */
export function parseReadings(bodies: readonly string[]): Reading[] {
  const out: Reading[] = [];
  for (const body of bodies) {
    try {
      const r = JSON.parse(body) as Reading;
      if (r && r.v === READING_VERSION && Number.isFinite(r.t)) out.push(r);
    } catch {
      // a damaged row is skipped; the ring replaces it within the hour
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * Offers the index a reading of `snapshot` (when given) and returns the stored readings from
 * `from` on (none when it is undefined). Only a complete collection may be offered: a missing source dips the totals, and
 * the next difference would read its return as a burst of strikes and spend.
 */
export async function storeReading(
  index: DurableObjectStub<MetricsIndex>,
  snapshot: Snapshot | undefined,
  now: number,
  from: number | undefined,
): Promise<{ recorded: boolean; readings: Reading[] }> {
  const answer = await index.readings({
    ...(snapshot ? { append: { t: now, body: JSON.stringify(readingOf(snapshot, now)) } } : {}),
    minSpacingMs: READING_SPACING_MS,
    retainMs: READING_RETENTION_MS,
    ...(from === undefined ? {} : { from }),
  });
  return { recorded: answer.recorded, readings: parseReadings(answer.readings.map((r) => r.body)) };
}
