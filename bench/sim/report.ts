// How a replay is printed: a markdown table for bench/RESULTS.md and the one-line summary.
import type { SloBounds } from "../../src/policy";
import type { RunMetrics } from "./metrics";
import type { SimResult } from "./simulate";

export function summaryLine(policy: string, m: RunMetrics): string {
  return (
    `policy=${policy} requests=${m.requests} utilization=${m.utilization.toFixed(4)} ` +
    `alloc_wait_p95_ms=${m.allocWaitMs.p95.toFixed(1)} cost_usd=${m.costUsd.toFixed(6)} ` +
    `slo_miss=${m.sloMiss.toFixed(4)} leaked=${m.leaked} slo_attainment=${m.sloAttainment.toFixed(4)} ` +
    `e2e_p50_ms=${m.latencyMs.p50.toFixed(1)} e2e_p95_ms=${m.latencyMs.p95.toFixed(1)} goodput_per_usd=${m.goodputPerUsd.toFixed(0)}`
  );
}

const ms = (n: number) => n.toFixed(1);

/** One column per run, one row per figure. */
export function metricsTable(runs: readonly { label: string; result: SimResult }[]): string {
  const rows: [string, (r: SimResult) => string][] = [
    ["requests (failed)", (r) => `${r.metrics.requests} (${r.metrics.failed})`],
    ["GPU utilisation (busy ÷ billed)", (r) => r.metrics.utilization.toFixed(4)],
    ["busy / billed GPU-slice seconds", (r) => `${r.metrics.busySeconds.toFixed(0)} / ${r.metrics.billedSeconds.toFixed(0)}`],
    ["allocation wait p50 / p95 / p99 ms", (r) => `${ms(r.metrics.allocWaitMs.p50)} / ${ms(r.metrics.allocWaitMs.p95)} / ${ms(r.metrics.allocWaitMs.p99)}`],
    ["end-to-end p50 / p95 / p99 ms", (r) => `${ms(r.metrics.latencyMs.p50)} / ${ms(r.metrics.latencyMs.p95)} / ${ms(r.metrics.latencyMs.p99)}`],
    ["time to first token p50 / p95 / p99 ms", (r) => `${ms(r.metrics.ttftMs.p50)} / ${ms(r.metrics.ttftMs.p95)} / ${ms(r.metrics.ttftMs.p99)}`],
    ["allocations made", (r) => String(r.metrics.allocations)],
    ["strikes on a held lease", (r) => `${r.metrics.reused} (${pct(r.metrics.reused / Math.max(1, r.metrics.requests))})`],
    ["peak allocations held", (r) => String(r.metrics.peakAllocations)],
    ["cost USD", (r) => r.metrics.costUsd.toFixed(6)],
    ["SLO attainment", (r) => `${pct(r.metrics.sloAttainment)} (${sloText(r.contract.qos)})`],
    ["goodput per USD (strikes in SLO ÷ cost)", (r) => r.metrics.goodputPerUsd.toFixed(0)],
    ["held after the last request (s)", (r) => r.metrics.tailHeldSeconds.toFixed(0)],
    ["expired upstream / leaked", (r) => `${r.metrics.expired} / ${r.metrics.leaked}`],
    ["alarm runs (set in the past)", (r) => `${r.shell.maintenanceRuns} (${r.shell.pastAlarms})`],
    ["most strikes on one lease", (r) => String(r.shell.peakInFlightPerLease)],
    ["strikes that found every pool full", (r) => String(r.shell.metFullPools)],
  ];
  const header = `| | ${runs.map((r) => r.label).join(" | ")} |`;
  const rule = `|---|${runs.map(() => "---:").join("|")}|`;
  return [header, rule, ...rows.map(([name, f]) => `| ${name} | ${runs.map((r) => f(r.result)).join(" | ")} |`)].join("\n");
}

/** The SLO's bounds as the covenant states them. */
export function sloText(q: SloBounds): string {
  return [`e2e ≤ ${q.latency_slo_ms} ms`, q.ttft_slo_ms !== null && `TTFT ≤ ${q.ttft_slo_ms} ms`, q.tpot_slo_ms !== null && `TPOT ≤ ${q.tpot_slo_ms} ms`].filter(Boolean).join(", ");
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}
