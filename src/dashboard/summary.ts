/**
 * What the dashboard shows, computed from the deployment's merged metric snapshot (the same one
 * `GET /metrics` exposes) and the stored readings. Pure: no clock, no I/O.
 */
import {
  bucketsOf, EDGE_METRICS, histogramsBy, METRICS, READING_RETENTION_MS, READING_SPACING_MS, rowsOf, sumBy,
  type HistogramValue, type MetricDef, type Reading, type Row, type Snapshot,
} from "../telemetry";
import { trendOf } from "./history";
import { quantilesOf } from "./quantiles";
import type { BreakerPhase, BreakerRow, DashboardSummary, PoolRow, Quantiles, SpendRow, TrendPoint, UpstreamFailureRow } from "./types";

/** The recent error rate at or above which the deployment counts as degraded. */
export const DEGRADED_ERROR_RATE = 0.05;
/** Breaker rows returned at most; by_target still counts every breaker. */
export const BREAKER_ROWS = 50;
/** Failed source names returned at most. */
const FAILED_NAMES = 20;

const PHASES: Record<number, BreakerPhase> = { 0: "closed", 1: "half_open", 2: "open" };
const SEVERITY: Record<BreakerPhase, number> = { open: 0, half_open: 1, closed: 2 };

export interface SummaryInput {
  snapshot: Snapshot;
  /** Covenant objects asked, and those that did not answer. */
  sources: readonly string[];
  failed: readonly string[];
  now: number;
  /** Stored readings, oldest first (see src/telemetry/readings.ts). */
  readings: readonly Reading[];
  /** Only history points after this time are returned (the page asks for what it lacks). */
  since?: number;
  /** Whether this request stored a reading. */
  recorded: boolean;
}

function spendRows(snap: Snapshot, label: "tenant" | "model" | "pool"): SpendRow[] {
  const keyOf = (l: Record<string, string>) => l[label] || "(none)";
  const usd = sumBy(rowsOf<number>(snap, METRICS.costUsd), keyOf);
  const tokens = sumBy(rowsOf<number>(snap, METRICS.tokens), keyOf);
  const strikes = sumBy(rowsOf<number>(snap, METRICS.strikes).filter((r) => r.labels.outcome === "ok"), keyOf);
  const keys = new Set([...usd.keys(), ...tokens.keys(), ...strikes.keys()]);
  return [...keys]
    .map((key) => {
      const t = tokens.get(key) ?? 0;
      const u = usd.get(key) ?? 0;
      return { key, usd: u, tokens: t, strikes: strikes.get(key) ?? 0, usd_per_1k_tokens: t > 0 ? (u / t) * 1000 : null };
    })
    .sort((a, b) => b.usd - a.usd || b.strikes - a.strikes || a.key.localeCompare(b.key));
}

function latencyBy(snap: Snapshot, def: MetricDef, label: string): (Quantiles & { key: string })[] {
  const bounds = bucketsOf(snap, def);
  const groups = histogramsBy(rowsOf<HistogramValue>(snap, def), (l) => l[label] || "(none)");
  return [...groups]
    .map(([key, h]) => ({ key, ...quantilesOf(bounds, h) }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

function latencyAll(snap: Snapshot, def: MetricDef): Quantiles {
  const all = histogramsBy(rowsOf<HistogramValue>(snap, def), () => "");
  return quantilesOf(bucketsOf(snap, def), all.get("") ?? null);
}

function breakers(snap: Snapshot): DashboardSummary["breakers"] {
  const rows: BreakerRow[] = rowsOf<number>(snap, METRICS.breakerState).map((r) => ({
    tenant: r.labels.tenant ?? "",
    covenant: r.labels.covenant ?? "",
    target: r.labels.target ?? "",
    phase: PHASES[r.value] ?? "open",
  }));
  const byTarget = new Map<string, { target: string; open: number; half_open: number; closed: number }>();
  for (const r of rows) {
    const t = byTarget.get(r.target) ?? { target: r.target, open: 0, half_open: 0, closed: 0 };
    t[r.phase] += 1;
    byTarget.set(r.target, t);
  }
  rows.sort((a, b) => SEVERITY[a.phase] - SEVERITY[b.phase] || a.target.localeCompare(b.target) || a.tenant.localeCompare(b.tenant) || a.covenant.localeCompare(b.covenant));
  return {
    by_target: [...byTarget.values()].sort((a, b) => b.open + b.half_open - (a.open + a.half_open) || a.target.localeCompare(b.target)),
    rows: rows.slice(0, BREAKER_ROWS),
    omitted: Math.max(0, rows.length - BREAKER_ROWS),
  };
}

function pools(snap: Snapshot, latest: TrendPoint | undefined): PoolRow[] {
  const poolOf = (l: Record<string, string>) => l.pool || "(none)";
  const live = sumBy(rowsOf<number>(snap, METRICS.liveLeases), poolOf);
  const released = sumBy(rowsOf<number>(snap, METRICS.leasesReleased), poolOf);
  const busy = sumBy(rowsOf<number>(snap, METRICS.leaseBusySeconds), poolOf);
  const held = sumBy(rowsOf<number>(snap, METRICS.leaseHeldSeconds), poolOf);
  const sampled = sumBy(rowsOf<number>(snap, METRICS.gpuLeasesSampled), poolOf);
  const upstream = new Map(rowsOf<number>(snap, EDGE_METRICS.gpuUtilization).map((r) => [poolOf(r.labels), r.value]));
  const used = sumBy(rowsOf<number>(snap, METRICS.gpuMemoryUsedBytes), poolOf);
  const granted = sumBy(rowsOf<number>(snap, METRICS.gpuMemoryAllocatedBytes), poolOf);
  // Pools that ever ran work on a lease; the local node holds no leases and is left out.
  const names = new Set([...live.keys(), ...released.keys(), ...held.keys(), ...sampled.keys()]);
  return [...names].sort().map((pool) => {
    const allocated = held.get(pool) ?? 0;
    const memory = granted.get(pool) ?? 0;
    return {
      pool,
      leases_live: live.get(pool) ?? 0,
      leases_released: released.get(pool) ?? 0,
      busy_s: busy.get(pool) ?? 0,
      allocated_s: allocated,
      utilisation: allocated > 0 ? Math.min(1, (busy.get(pool) ?? 0) / allocated) : null,
      utilisation_recent: latest?.utilisation[pool] ?? null,
      leases_sampled: sampled.get(pool) ?? 0,
      upstream_utilisation: upstream.get(pool) ?? null,
      memory_used_bytes: used.get(pool) ?? 0,
      memory_allocated_bytes: memory,
      memory_used_ratio: memory > 0 ? (used.get(pool) ?? 0) / memory : null,
    };
  });
}

function health(s: Pick<DashboardSummary, "sources" | "breakers">, latest: TrendPoint | undefined): DashboardSummary["health"] {
  const reasons: string[] = [];
  let status: DashboardSummary["health"]["status"] = "ok";
  if (s.sources.failed > 0) {
    status = "incomplete";
    reasons.push(`${s.sources.failed} of ${s.sources.total} covenant objects did not answer: totals are low`);
  }
  const tripped = s.breakers.by_target.filter((t) => t.open + t.half_open > 0);
  if (tripped.length > 0) {
    if (status === "ok") status = "degraded";
    const list = tripped.map((t) => `${t.target} (${t.open} open, ${t.half_open} half open)`).join(", ");
    reasons.push(`circuit breakers tripped: ${list}`);
  }
  if (latest?.error_rate != null && latest.error_rate >= DEGRADED_ERROR_RATE) {
    if (status === "ok") status = "degraded";
    reasons.push(`${(latest.error_rate * 100).toFixed(1)}% of strikes failed in the last minute`);
  }
  return { status, reasons };
}

export function buildSummary(input: SummaryInput): DashboardSummary {
  const { snapshot: snap } = input;
  const strikeRows: Row<number>[] = rowsOf<number>(snap, METRICS.strikes);
  const byOutcome = sumBy(strikeRows, (l) => l.outcome ?? "");
  const ok = byOutcome.get("ok") ?? 0;
  const error = byOutcome.get("error") ?? 0;
  const byErrorType = sumBy(strikeRows.filter((r) => r.labels.outcome === "error"), (l) => l.error_type || "unknown");
  const tokensByKind = sumBy(rowsOf<number>(snap, METRICS.tokens), (l) => l.kind ?? "");
  const attempts = rowsOf<number>(snap, METRICS.attemptFailures);
  const calls: UpstreamFailureRow[] = rowsOf<number>(snap, METRICS.upstreamFailures).map((r) => ({
    operation: r.labels.operation ?? "",
    kind: (r.labels.kind ?? "error") as UpstreamFailureRow["kind"],
    pool: r.labels.pool ?? "",
    count: r.value,
  }));
  const count = (def: MetricDef) => [...sumBy(rowsOf<number>(snap, def), () => "").values()].reduce((a, b) => a + b, 0);

  const allPoints = trendOf(input.readings);
  const latest = allPoints[allPoints.length - 1];
  const sources = {
    total: input.sources.length,
    ok: input.sources.length - input.failed.length,
    failed: input.failed.length,
    failed_names: input.failed.slice(0, FAILED_NAMES),
  };
  const breakerView = breakers(snap);
  const costBy = { by_tenant: spendRows(snap, "tenant"), by_model: spendRows(snap, "model"), by_pool: spendRows(snap, "pool") };

  return {
    t: input.now,
    health: health({ sources, breakers: breakerView }, latest),
    sources,
    strikes: {
      total: ok + error,
      ok,
      error,
      error_rate: ok + error > 0 ? error / (ok + error) : null,
      by_error_type: [...byErrorType]
        .map(([type, n]) => ({ type, count: n, share: error > 0 ? n / error : 0 }))
        .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    },
    attempt_failures: attempts
      .map((r) => ({ target: r.labels.target ?? "", type: r.labels.type ?? "", count: r.value }))
      .sort((a, b) => b.count - a.count || a.target.localeCompare(b.target) || a.type.localeCompare(b.type)),
    upstream_failures: calls.sort(
      (a, b) => b.count - a.count || a.operation.localeCompare(b.operation) || a.kind.localeCompare(b.kind) || a.pool.localeCompare(b.pool),
    ),
    breakers: breakerView,
    resources: {
      leases_live: count(METRICS.liveLeases),
      in_flight: count(METRICS.inFlight),
      queue_depth: count(METRICS.queueDepth),
      pools: pools(snap, latest),
    },
    cost: {
      total_usd: costBy.by_pool.reduce((a, r) => a + r.usd, 0),
      tokens: { prompt: tokensByKind.get("prompt") ?? 0, completion: tokensByKind.get("completion") ?? 0 },
      ...costBy,
    },
    latency: {
      request: latencyAll(snap, METRICS.requestSeconds),
      request_by_pool: latencyBy(snap, METRICS.requestSeconds, "pool"),
      request_by_model: latencyBy(snap, METRICS.requestSeconds, "model"),
      inference: latencyAll(snap, METRICS.inferenceSeconds),
      allocation: latencyAll(snap, METRICS.allocationSeconds),
      inference_by_pool: latencyBy(snap, METRICS.inferenceSeconds, "pool"),
      inference_by_model: latencyBy(snap, METRICS.inferenceSeconds, "model"),
      allocation_by_pool: latencyBy(snap, METRICS.allocationSeconds, "pool"),
    },
    history: {
      spacing_s: READING_SPACING_MS / 1000,
      retention_s: READING_RETENTION_MS / 1000,
      recorded: input.recorded,
      points: input.since === undefined ? allPoints : allPoints.filter((p) => p.t > input.since!),
    },
  };
}
