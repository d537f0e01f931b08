/**
 * The policy over its main knobs: every point of a grid replayed on one trace, the baseline (the
 * seed rule) beside them, and the cost / SLO-attainment frontier — the points no other point
 * beats on both — so an operator can pick one. Pure, like the simulator.
 */
import type { RunMetrics } from "./metrics";

/** The knobs a sweep varies: covenant fields (`lease.*`). */
export interface SweepKnobs {
  share_delay_ms: number;
  max_concurrency: number;
  max_leases: number;
  warm_ahead: "off" | "burst";
  idle_timeout_s: number;
}

export const SWEEP_GRID = {
  share_delay_ms: [0, 50, 100, 200, 400, 1600, 600_000],
  max_concurrency: [2, 4, 8],
  max_leases: [16, 32],
  warm_ahead: ["off", "burst"] as const,
  idle_timeout_s: [0, 5, 30],
};

export function sweepPoints(grid = SWEEP_GRID): SweepKnobs[] {
  const points: SweepKnobs[] = [];
  for (const idle_timeout_s of grid.idle_timeout_s)
    for (const warm_ahead of grid.warm_ahead)
      for (const max_leases of grid.max_leases)
        for (const max_concurrency of grid.max_concurrency)
          for (const share_delay_ms of grid.share_delay_ms) points.push({ share_delay_ms, max_concurrency, max_leases, warm_ahead, idle_timeout_s });
  return points;
}

export interface SweepPoint {
  knobs: SweepKnobs;
  metrics: RunMetrics;
}

/**
 * Points on the cost / SLO-attainment frontier: no other point costs no more and attains no less
 * with one of the two strictly better. Ascending cost.
 */
export function frontier<P extends { metrics: RunMetrics }>(points: readonly P[]): P[] {
  const sorted = [...points].sort((a, b) => a.metrics.costUsd - b.metrics.costUsd || b.metrics.sloAttainment - a.metrics.sloAttainment);
  const out: P[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.metrics.sloAttainment > best) {
      out.push(p);
      best = p.metrics.sloAttainment;
    }
  }
  return out;
}

/** Whether a run is never worse for the user than the baseline: SLO attainment no lower, end-to-end p50 and p95 no higher. */
export function userDominates(m: RunMetrics, baseline: RunMetrics): boolean {
  return m.sloAttainment >= baseline.sloAttainment && m.latencyMs.p50 <= baseline.latencyMs.p50 && m.latencyMs.p95 <= baseline.latencyMs.p95;
}

/** The cheapest point that is never worse for the user than the baseline, if any. */
export function cheapestDominating<P extends { metrics: RunMetrics }>(points: readonly P[], baseline: RunMetrics): P | undefined {
  return points.filter((p) => userDominates(p.metrics, baseline)).sort((a, b) => a.metrics.costUsd - b.metrics.costUsd)[0];
}

export function knobsText(k: SweepKnobs): string {
  const delay = k.share_delay_ms >= 600_000 ? "∞" : String(k.share_delay_ms);
  return `share_delay_ms=${delay} max_concurrency=${k.max_concurrency} max_leases=${k.max_leases} warm_ahead=${k.warm_ahead} idle_timeout_s=${k.idle_timeout_s}`;
}

export function sameKnobs(a: SweepKnobs, b: SweepKnobs): boolean {
  return knobsText(a) === knobsText(b);
}

/** The cheapest point meeting a condition (e.g. an allocation-wait bound), if any. */
export function cheapestWhere<P extends { metrics: RunMetrics }>(points: readonly P[], ok: (m: RunMetrics) => boolean): P | undefined {
  return points.filter((p) => ok(p.metrics)).sort((a, b) => a.metrics.costUsd - b.metrics.costUsd)[0];
}
