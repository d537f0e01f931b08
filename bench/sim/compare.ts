/**
 * Live against simulated, on the same trace slice and time scale. The verdict rests on what the
 * simulator claims to model (how many allocations the policy makes, how busy and how costly they
 * are, that none leaks), with tolerances fixed in advance; waits and latencies are printed for
 * reading, since the simulator leaves out the milliseconds of HTTP and RPC between the workers.
 */
import type { RunMetrics } from "./metrics";

export const TOLERANCE = {
  /** Relative difference in allocations made, or this many, whichever is larger. */
  allocationsRel: 0.15,
  allocationsAbs: 2,
  /** Absolute difference in utilisation. */
  utilization: 0.05,
  /** Relative difference in cost. */
  costRel: 0.15,
} as const;

export interface Comparison {
  agreement: "ok" | "off";
  reasons: string[];
  table: string;
}

export function compareRuns(live: RunMetrics, sim: RunMetrics): Comparison {
  const reasons: string[] = [];
  const allocDiff = Math.abs(live.allocations - sim.allocations);
  if (allocDiff > Math.max(TOLERANCE.allocationsAbs, TOLERANCE.allocationsRel * sim.allocations)) {
    reasons.push(`allocations ${live.allocations} live vs ${sim.allocations} simulated`);
  }
  if (Math.abs(live.utilization - sim.utilization) > TOLERANCE.utilization) {
    reasons.push(`utilisation ${live.utilization.toFixed(3)} live vs ${sim.utilization.toFixed(3)} simulated`);
  }
  if (Math.abs(live.costUsd - sim.costUsd) > TOLERANCE.costRel * sim.costUsd) {
    reasons.push(`cost $${live.costUsd.toFixed(6)} live vs $${sim.costUsd.toFixed(6)} simulated`);
  }
  if (live.leaked !== 0 || sim.leaked !== 0) reasons.push(`leaked ${live.leaked} live, ${sim.leaked} simulated`);
  if (live.failed !== sim.failed) reasons.push(`failed strikes ${live.failed} live vs ${sim.failed} simulated`);

  const ratio = (a: number, b: number) => (b === 0 ? (a === 0 ? "1.000" : "—") : (a / b).toFixed(3));
  const row = (name: string, a: number, b: number, fmt: (n: number) => string) => `| ${name} | ${fmt(a)} | ${fmt(b)} | ${ratio(a, b)} |`;
  const int = (n: number) => String(Math.round(n));
  const f3 = (n: number) => n.toFixed(3);
  const f1 = (n: number) => n.toFixed(1);
  const table = [
    "| | live | simulated | live ÷ sim |",
    "|---|---:|---:|---:|",
    row("strikes answered", live.requests - live.failed, sim.requests - sim.failed, int),
    row("allocations made", live.allocations, sim.allocations, int),
    row("strikes on a held lease", live.reused, sim.reused, int),
    row("GPU utilisation", live.utilization, sim.utilization, f3),
    row("busy slice-seconds (emulated)", live.busySeconds, sim.busySeconds, f1),
    row("billed slice-seconds", live.billedSeconds, sim.billedSeconds, int),
    row("cost USD", live.costUsd, sim.costUsd, (n) => n.toFixed(6)),
    row("allocation wait p50 ms", live.allocWaitMs.p50, sim.allocWaitMs.p50, f1),
    row("allocation wait p95 ms", live.allocWaitMs.p95, sim.allocWaitMs.p95, f1),
    row("allocation wait p99 ms", live.allocWaitMs.p99, sim.allocWaitMs.p99, f1),
    row("end-to-end p50 ms", live.latencyMs.p50, sim.latencyMs.p50, f1),
    row("end-to-end p95 ms", live.latencyMs.p95, sim.latencyMs.p95, f1),
    row("leaked allocations", live.leaked, sim.leaked, int),
  ].join("\n");
  return { agreement: reasons.length === 0 ? "ok" : "off", reasons, table };
}
