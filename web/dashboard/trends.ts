// The dashboard's charts over time, drawn from the history points the page has gathered.
import type { TrendPoint } from "../../src/dashboard/types";
import { colorFor, TimeChart, type SeriesSpec } from "./charts";
import { byId } from "./dom";
import { ms, pct, usd } from "./format";

export type SpendSplitKey = "pool" | "model" | "tenant";
export type UnitCostSplitKey = "pool" | "model";

/** Points further apart than this many reading spacings are drawn with a gap between them. */
const GAP_SPACINGS = 4;

const shortNumber = (v: number) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : `${+v.toFixed(2)}`);
const axisUsd = (v: number) => (v === 0 ? "$0" : Math.abs(v) < 0.01 ? `$${v.toPrecision(2)}` : usd(v));

export class Trends {
  private readonly strikes = new TimeChart(byId("chart-strikes"), { format: shortNumber, rightFormat: pct, rightRange: [0, 1] });
  private readonly leases = new TimeChart(byId("chart-leases"), { format: shortNumber, integer: true });
  private readonly utilisation = new TimeChart(byId("chart-utilisation"), { format: pct, leftRange: [0, 1] });
  private readonly spend = new TimeChart(byId("chart-spend"), { format: axisUsd, height: 220 });
  private readonly latency = new TimeChart(byId("chart-latency"), { format: ms });
  private readonly allocation = new TimeChart(byId("chart-allocation"), { format: ms });
  private readonly request = new TimeChart(byId("chart-request-latency"), { format: ms });
  private readonly throughput = new TimeChart(byId("chart-throughput"), { format: shortNumber, rightFormat: shortNumber });
  private readonly unitCost = new TimeChart(byId("chart-unit-cost"), { format: axisUsd });
  private readonly upstreamFailures = new TimeChart(byId("chart-upstream-failures"), { format: shortNumber });

  /** Redraws every chart from `points` (oldest first). */
  draw(points: TrendPoint[], spacingS: number, split: SpendSplitKey, unitSplit: UnitCostSplitKey = "pool"): void {
    const rows = withGaps(points, spacingS * GAP_SPACINGS);
    const x = rows.map((r) => r.t / 1000);
    const col = (f: (p: TrendPoint) => number | null) => rows.map((r) => (r.point ? f(r.point) : null));
    const keyed = (keysOf: (p: TrendPoint) => Record<string, unknown>, f: (p: TrendPoint, key: string) => number | null): SeriesSpec[] =>
      keysIn(points, keysOf).map((key) => ({ label: key, color: colorFor(key), values: col((p) => f(p, key)) }));

    this.strikes.update(x, [
      { label: "succeeded/min", color: "#4cc9f0", values: col((p) => p.strikes_per_min - p.errors_per_min) },
      { label: "failed/min", color: "#f94144", values: col((p) => p.errors_per_min) },
      { label: "error rate", color: "#f9c74f", axis: "right", dash: [4, 4], values: col((p) => p.error_rate) },
    ]);
    this.leases.update(x, [
      ...keyed((p) => p.leases, (p, k) => p.leases[k] ?? 0),
      { label: "queue depth", color: "#e9edc9", dash: [4, 4], values: col((p) => p.queue_depth) },
    ]);
    // Ours (busy ÷ held) solid, Hosted.AI's own utilisation dashed and memory used ÷ granted dotted, per pool.
    this.utilisation.update(x, [
      ...keyed((p) => p.utilisation, (p, k) => p.utilisation[k] ?? null),
      ...keyed((p) => p.upstream_utilisation ?? {}, (p, k) => p.upstream_utilisation?.[k] ?? null).map((s) => ({ ...s, label: `${s.label} · Hosted.AI`, dash: [6, 4] })),
      ...keyed((p) => p.memory_used_ratio ?? {}, (p, k) => p.memory_used_ratio?.[k] ?? null).map((s) => ({ ...s, label: `${s.label} · memory`, dash: [2, 3] })),
    ]);
    this.request.update(x, [
      { label: "p50", color: "#4cc9f0", values: col((p) => p.request_p50_ms ?? null) },
      { label: "p95", color: "#f8961e", values: col((p) => p.request_p95_ms ?? null) },
      { label: "p99", color: "#f94144", values: col((p) => p.request_p99_ms ?? null) },
    ]);
    this.throughput.update(x, [
      { label: "strikes/min", color: "#4cc9f0", values: col((p) => p.strikes_per_min) },
      { label: "tokens/min", color: "#90be6d", axis: "right", values: col((p) => p.tokens_per_min) },
    ]);
    this.unitCost.update(x, keyed((p) => p.usd_per_1k_tokens?.[unitSplit] ?? {}, (p, k) => p.usd_per_1k_tokens?.[unitSplit]?.[k] ?? null));
    this.upstreamFailures.update(x, keyed((p) => p.upstream_failures_per_min ?? {}, (p, k) => p.upstream_failures_per_min?.[k] ?? 0));
    this.spend.update(x, keyed((p) => p.spend_by[split], (p, k) => p.spend_by[split][k] ?? 0));
    this.latency.update(x, [
      { label: "p50", color: "#4cc9f0", values: col((p) => p.inference_p50_ms) },
      { label: "p95", color: "#f8961e", values: col((p) => p.inference_p95_ms) },
      { label: "p99", color: "#f94144", values: col((p) => p.inference_p99_ms) },
    ]);
    this.allocation.update(x, [
      { label: "p50", color: "#90be6d", values: col((p) => p.allocation_p50_ms) },
      { label: "p95", color: "#c77dff", values: col((p) => p.allocation_p95_ms) },
    ]);
  }
}

/** Every key any point has, sorted, so series keep their place while history grows. */
function keysIn(points: TrendPoint[], keysOf: (p: TrendPoint) => Record<string, unknown>): string[] {
  const keys = new Set<string>();
  for (const p of points) for (const k of Object.keys(keysOf(p))) keys.add(k);
  return [...keys].sort();
}

/** Points with an empty row wherever readings stopped for a while (no page and no scrape asked). */
function withGaps(points: TrendPoint[], gapS: number): { t: number; point: TrendPoint | null }[] {
  const out: { t: number; point: TrendPoint | null }[] = [];
  for (const [i, p] of points.entries()) {
    const prev = points[i - 1];
    if (prev && (p.t - prev.t) / 1000 > gapS) out.push({ t: (prev.t + p.t) / 2, point: null });
    out.push({ t: p.t, point: p });
  }
  return out;
}
