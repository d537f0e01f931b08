/**
 * The same figures as a simulated run, computed from what a live replay can observe: each
 * allocation's receipt and metrics from the emulator, when it was last seen held, and each
 * strike's answer. Pure, so the arithmetic is tested apart from the running system.
 */
import { meetsSlo, type SloBounds } from "../../src/policy";
import { percentiles, type RunMetrics } from "./metrics";

export interface ObservedAllocation {
  /** Emulated ms. */
  createdAt: number;
  status: string;
  billedSeconds: number;
  costUsd: number;
  gpuUtilization: number;
  inferenceCount: number;
  /** Real ms per inference (the emulator reports scaled latency). */
  averageLatencyMs: number;
  /** Emulated ms at which it ended, estimated from polling; null when never seen held. */
  endedAtEstimate: number | null;
}

export interface ObservedStrike {
  ok: boolean;
  /** queue_ms + allocate_ms as the covenant object measured them. */
  waitMs: number;
  /** Client-side arrival → answer, real ms. */
  latencyMs: number;
  /** Client-side arrival → first token, real ms, when the strike streamed. */
  ttftMs?: number;
  /** Ms per token after the first, when the strike streamed more than one. */
  tpotMs?: number;
  reused: boolean;
}

/**
 * Busy emulated ms of one allocation. One inference: its latency exactly. More: utilisation ×
 * held time, where held time comes from polling, bounded by billing (whole seconds, rounded up).
 */
export function busyMs(a: ObservedAllocation, timeScale: number): number {
  if (a.inferenceCount === 0) return 0;
  if (a.inferenceCount === 1) return a.averageLatencyMs * timeScale;
  const lo = Math.max(0, (a.billedSeconds - 1) * 1000);
  const hi = a.billedSeconds * 1000;
  const polled = a.endedAtEstimate !== null ? a.endedAtEstimate - a.createdAt : (lo + hi) / 2;
  return a.gpuUtilization * Math.min(hi, Math.max(lo, polled));
}

export function liveMetrics(input: {
  allocations: readonly ObservedAllocation[];
  strikes: readonly ObservedStrike[];
  leaked: number;
  expired: number;
  timeScale: number;
  slo: SloBounds;
}): RunMetrics {
  const { allocations, strikes, timeScale } = input;
  const busy = allocations.reduce((s, a) => s + busyMs(a, timeScale), 0);
  const billed = allocations.reduce((s, a) => s + a.billedSeconds, 0);
  const done = strikes.filter((s) => s.ok);
  const k = timeScale;
  const met = done.filter((s) => meetsSlo({ e2eMs: s.latencyMs * k, ttftMs: (s.ttftMs ?? s.latencyMs) * k, tpotMs: s.tpotMs === undefined ? null : s.tpotMs * k }, input.slo)).length;
  const cost = allocations.reduce((s, a) => s + a.costUsd, 0);
  const n = strikes.length;
  return {
    requests: strikes.length,
    failed: strikes.length - done.length,
    reused: done.filter((s) => s.reused).length,
    allocations: allocations.length,
    utilization: billed > 0 ? busy / (billed * 1000) : 0,
    busySeconds: busy / 1000,
    billedSeconds: billed,
    costUsd: cost,
    allocWaitMs: percentiles(done.map((s) => s.waitMs)),
    latencyMs: percentiles(done.map((s) => s.latencyMs)),
    sloMiss: n > 0 ? 1 - met / n : 0,
    sloAttainment: n > 0 ? met / n : 1,
    goodputPerUsd: cost > 0 ? met / cost : 0,
    ttftMs: percentiles(done.map((s) => s.ttftMs ?? s.latencyMs)),
    leaked: input.leaked,
    expired: input.expired,
    tailHeldSeconds: 0,
    peakAllocations: 0,
  };
}
