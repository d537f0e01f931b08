/**
 * What a run measured, from the simulated cluster's allocation rows (billing, busy time) and the
 * strikes' records (waits, latencies). Busy time is the emulator's: the union of inference
 * intervals on an allocation, in emulated ms.
 */
import { billedSeconds, costUsd } from "../../workers/hostedai-emulator/src/billing";
import type { AllocationRow } from "../../workers/hostedai-emulator/src/store";
import { meetsSlo, type SloBounds } from "../../src/policy";
import type { StrikeRecord } from "./strikes";

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface RunMetrics {
  requests: number;
  failed: number;
  /** Strikes that ran on a lease already held (homeskillet) rather than one allocated for them. */
  reused: number;
  allocations: number;
  /** Busy ÷ billed allocation time, 0..1. */
  utilization: number;
  busySeconds: number;
  billedSeconds: number;
  costUsd: number;
  /** Arrival → a slice to run on, ms of the run's clock. */
  allocWaitMs: Percentiles;
  /** Arrival → answer, ms of the run's clock. */
  latencyMs: Percentiles;
  /** Share of strikes that failed or missed a bound of their SLO (in trace time): 1 − sloAttainment. */
  sloMiss: number;
  /** Share of strikes that answered within every bound of their SLO (end to end, TTFT, TPOT). */
  sloAttainment: number;
  /** Strikes that met their SLO per dollar spent: goodput per dollar, as in DistServe. */
  goodputPerUsd: number;
  /** Arrival → first token, ms of the run's clock. */
  ttftMs: Percentiles;
  /** Allocations still held when the run ended, after its final drain. */
  leaked: number;
  /** Allocations that ran out their term upstream instead of being released. */
  expired: number;
  /** Allocation seconds held after the last request arrived (the drain tail). */
  tailHeldSeconds: number;
  peakAllocations: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 };
}

export interface MeasureInput {
  rows: readonly AllocationRow[];
  records: readonly StrikeRecord[];
  /** Emulated ms at the end of the run: allocations still held are billed up to here. */
  endEmulated: number;
  /** Emulated ms when the last request arrived. */
  lastArrivalEmulated: number;
  timeScale: number;
  slo: SloBounds;
}

export function measure(input: MeasureInput): RunMetrics {
  let busyMs = 0;
  let billed = 0;
  let cost = 0;
  let leaked = 0;
  let expired = 0;
  let tail = 0;
  const edges: [number, number][] = [];
  for (const row of input.rows) {
    const held = row.status === "active";
    if (held) leaked++;
    if (row.status === "expired") expired++;
    const end = held ? input.endEmulated : row.ended_at!;
    const seconds = held ? billedSeconds(end - row.created_at, row.duration_seconds) : row.billed_seconds!;
    billed += seconds;
    cost += held ? costUsd(seconds, row.price_per_hour) : row.cost_usd!;
    // Busy time already booked for an inference still running past the end does not count.
    busyMs += Math.max(0, row.busy_ms - Math.max(0, row.busy_until - end));
    tail += Math.max(0, end - Math.max(row.created_at, input.lastArrivalEmulated)) / 1000;
    edges.push([row.created_at, 1], [end, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (live += d));

  const done = input.records.filter((r) => r.ok);
  const waits = done.map((r) => r.acquiredAt! - r.arrivedAt);
  const latencies = done.map((r) => r.endedAt! - r.arrivedAt);
  const k = input.timeScale;
  const met = done.filter((r) =>
    meetsSlo({ e2eMs: (r.endedAt! - r.arrivedAt) * k, ttftMs: ((r.firstTokenAt ?? r.endedAt!) - r.arrivedAt) * k, tpotMs: r.tpotMs === null ? null : r.tpotMs * k }, input.slo),
  ).length;
  const n = input.records.length;
  return {
    requests: input.records.length,
    failed: input.records.length - done.length,
    reused: done.filter((r) => r.reused).length,
    allocations: input.rows.length,
    utilization: billed > 0 ? busyMs / (billed * 1000) : 0,
    busySeconds: busyMs / 1000,
    billedSeconds: billed,
    costUsd: cost,
    allocWaitMs: percentiles(waits),
    latencyMs: percentiles(latencies),
    sloMiss: n > 0 ? 1 - met / n : 0,
    sloAttainment: n > 0 ? met / n : 1,
    goodputPerUsd: cost > 0 ? met / cost : 0,
    ttftMs: percentiles(done.map((r) => (r.firstTokenAt ?? r.endedAt!) - r.arrivedAt)),
    leaked,
    expired,
    tailHeldSeconds: tail,
    peakAllocations: peak,
  };
}
