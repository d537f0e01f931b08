import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTimestamp, parseTrace, simulate, type SimOptions } from "../bench/sim";
import { compareRuns } from "../bench/sim/compare";
import { EventLoop } from "../bench/sim/engine";
import { MinHeap } from "../bench/sim/heap";
import { covenantFor } from "../bench/sim/covenant-overrides";
import { busyMs, liveMetrics, type ObservedAllocation } from "../bench/sim/live-metrics";
import type { RunMetrics } from "../bench/sim/metrics";
import { cheapestDominating, frontier, knobsText, sweepPoints, userDominates } from "../bench/sim/sweep";
import trace from "./fixtures/trace-slice.csv?raw";

const slice = parseTrace(trace);
const run = (opts: Partial<SimOptions> = {}) => simulate(slice, { policy: "homeskillet", model: "mistral-7b", seed: 7, ...opts });

describe("trace parsing", () => {
  it("reads every request of the slice, with sub-millisecond arrival times", () => {
    expect(slice).toHaveLength(300);
    expect(slice[0]).toEqual({ index: 0, atMs: 0, promptTokens: 4808, completionTokens: 10 });
    // 18:17:03.9799600 → 18:17:04.0319600
    expect(slice[1]!.atMs).toBeCloseTo(52, 6);
    expect(slice.every((r, i) => i === 0 || r.atMs >= slice[i - 1]!.atMs)).toBe(true);
  });

  it("finds columns by name, sorts by arrival and keeps fractions of a second", () => {
    const csv = "generatedtokens,TIMESTAMP,ContextTokens\n5,2023-11-16 00:00:01.25,10\n7,2023-11-16 00:00:00.5,20\n";
    expect(parseTrace(csv)).toEqual([
      { index: 0, atMs: 0, promptTokens: 20, completionTokens: 7 },
      { index: 1, atMs: 750, promptTokens: 10, completionTokens: 5 },
    ]);
    const tenth = parseTrace("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16T00:00:00Z,1,1\n2023-11-16 00:00:00.0000001,1,1\n");
    expect(tenth[1]!.atMs).toBeCloseTo(0.0001, 12);
    expect(parseTimestamp("2023-11-16 01:00:00+01:00")).toBe(parseTimestamp("2023-11-16 00:00:00"));
  });

  it("names the line of a malformed row and the missing columns of a wrong header", () => {
    expect(() => parseTrace("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 00:00:00,1,2\nyesterday,1,2\n")).toThrow(/line 3/);
    expect(() => parseTrace("time,prompt,output\n")).toThrow(/missing timestamp, contexttokens, generatedtokens/);
  });
});

describe("event loop", () => {
  it("pops in time order, and in scheduling order at equal times", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const loop = new EventLoop();
        const seen: [number, number][] = [];
        times.forEach((t, i) => loop.at(t, () => seen.push([loop.now, i])));
        loop.run();
        const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(seen).toEqual(expected);
      }),
    );
  });

  it("skips cancelled timers and stops at the horizon", () => {
    const loop = new EventLoop();
    const ran: string[] = [];
    const t = loop.at(5, () => ran.push("cancelled"));
    loop.at(10, () => ran.push("late"));
    loop.at(1, () => ran.push("early"));
    loop.cancel(t);
    loop.run(8);
    expect(ran).toEqual(["early"]);
    expect(loop.now).toBe(8);
    expect(loop.idle()).toBe(false);
  });

  it("the heap agrees with a sort", () => {
    fc.assert(
      // -0 and 0 are equal to both orders, but not to toEqual: read every zero as 0.
      fc.property(fc.array(fc.double({ noNaN: true }).map((x) => x + 0)), (xs) => {
        const h = new MinHeap<number>((a, b) => a < b);
        xs.forEach((x) => h.push(x));
        const out: number[] = [];
        for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
        expect(out).toEqual([...xs].sort((a, b) => a - b));
      }),
    );
  });
});

describe("simulator", () => {
  it("is deterministic: the same trace and seed give the same numbers", () => {
    for (const policy of ["seed", "homeskillet"] as const) {
      expect(run({ policy })).toEqual(run({ policy }));
    }
  });

  it("the seed's provisioning jitter reaches the numbers", () => {
    const a = run({ policy: "seed", seed: 1 }).metrics.allocWaitMs;
    const b = run({ policy: "seed", seed: 2 }).metrics.allocWaitMs;
    expect(a).not.toEqual(b);
  });

  it("the seed rule makes one allocation per strike and releases each", () => {
    const { metrics } = run({ policy: "seed" });
    expect(metrics.failed).toBe(0);
    expect(metrics.allocations).toBe(slice.length);
    expect(metrics.reused).toBe(0);
    expect(metrics.leaked).toBe(0);
    expect(metrics.expired).toBe(0);
    // Each allocation is billed at least one whole second.
    expect(metrics.billedSeconds).toBeGreaterThanOrEqual(slice.length);
  });

  it("homeskillet reuses leases: fewer allocations, cheaper and no slower than the seed rule, none leaked, whichever way it drains", () => {
    const seed = run({ policy: "seed" }).metrics;
    for (const finalDrain of ["natural", "retire"] as const) {
      const { metrics, contract, shell } = run({ finalDrain });
      expect(metrics.failed).toBe(0);
      expect(metrics.allocations).toBeLessThan(slice.length / 2);
      expect(metrics.reused).toBeGreaterThan(slice.length / 2);
      expect(metrics.allocations + metrics.reused).toBe(slice.length);
      expect(metrics.costUsd).toBeLessThan(seed.costUsd);
      // The seed rule's bill is the emulator's: one allocation per strike, each at least a second.
      expect(seed.billedSeconds).toBeGreaterThanOrEqual(slice.length);
      expect(metrics.latencyMs.p50).toBeLessThanOrEqual(seed.latencyMs.p50);
      expect(metrics.latencyMs.p95).toBeLessThanOrEqual(seed.latencyMs.p95);
      expect(metrics.sloAttainment).toBeGreaterThanOrEqual(seed.sloAttainment);
      expect(metrics.leaked).toBe(0);
      expect(metrics.expired).toBe(0);
      expect(metrics.utilization).toBeGreaterThan(seed.utilization);
      expect(metrics.utilization).toBeLessThanOrEqual(1);
      expect(metrics.peakAllocations).toBeLessThanOrEqual(contract.lease.max_leases);
      expect(shell.peakInFlightPerLease).toBeLessThanOrEqual(contract.lease.max_concurrency);
    }
  });

  it("with TTFT and TPOT bounds, attainment counts a strike only when every bound holds", () => {
    const loose = run({ policy: "seed" }).metrics;
    const contract = covenantFor({ ttft_slo_ms: 300, tpot_slo_ms: 1 });
    const tight = run({ policy: "seed", contract }).metrics;
    // The emulator's mistral-7b decodes at 143 tokens/s (7 ms a token): every strike of more than one token misses a 1 ms TPOT bound.
    const multiToken = slice.filter((r) => r.completionTokens > 1).length;
    expect(tight.sloAttainment).toBeLessThanOrEqual((slice.length - multiToken) / slice.length);
    expect(tight.sloAttainment).toBeLessThan(loose.sloAttainment);
    expect(tight.goodputPerUsd).toBeCloseTo((tight.sloAttainment * slice.length) / tight.costUsd, 6);
  });

  it("a looser max_tokens changes what the policy predicts, not the work: the seed rule's busy time is the same", () => {
    const exact = run({ policy: "seed" }).metrics;
    const loose = run({ policy: "seed", maxTokensFactor: 4 }).metrics;
    expect(loose.busySeconds).toBeCloseTo(exact.busySeconds, 9);
    const mine = run({ maxTokensFactor: 4 }).metrics;
    expect(mine.failed).toBe(0);
    expect(mine.costUsd).toBeLessThan(loose.costUsd);
  });

  it("sharing more (share_delay_ms) costs less and is slower: the trade-off the sweep draws", () => {
    const never = run({ contract: covenantFor({ share_delay_ms: 0 }) }).metrics;
    const always = run({ contract: covenantFor({ share_delay_ms: 600_000, max_concurrency: 8 }) }).metrics;
    expect(always.allocations).toBeLessThan(never.allocations);
    expect(always.costUsd).toBeLessThan(never.costUsd);
    expect(always.latencyMs.p50).toBeGreaterThan(never.latencyMs.p50);
  });

  it("at time scale K the seed rule does the same emulated work K times faster", () => {
    // The seed rule has no timers of its own, so nothing but the clock changes.
    const slow = run({ policy: "seed" }).metrics;
    const fast = run({ policy: "seed", timeScale: 4 }).metrics;
    expect(fast.allocations).toBe(slow.allocations);
    expect(fast.busySeconds).toBeCloseTo(slow.busySeconds, 6);
    expect(fast.billedSeconds).toBe(slow.billedSeconds);
    expect(fast.allocWaitMs.p50).toBeCloseTo(slow.allocWaitMs.p50 / 4, 6);
  });
});

describe("live figures", () => {
  const alloc = (over: Partial<ObservedAllocation>): ObservedAllocation => ({
    createdAt: 0,
    status: "released",
    billedSeconds: 10,
    costUsd: 0.001,
    gpuUtilization: 0.5,
    inferenceCount: 5,
    averageLatencyMs: 100,
    endedAtEstimate: 9_500,
    ...over,
  });

  it("busy time: one inference exactly, several from utilisation × held time bounded by billing", () => {
    expect(busyMs(alloc({ inferenceCount: 1, averageLatencyMs: 120 }), 5)).toBe(600);
    expect(busyMs(alloc({ inferenceCount: 0 }), 5)).toBe(0);
    expect(busyMs(alloc({}), 1)).toBe(4_750);
    // A polled end past the billed seconds is cut back to them; one never seen held takes the middle.
    expect(busyMs(alloc({ endedAtEstimate: 30_000 }), 1)).toBe(5_000);
    expect(busyMs(alloc({ endedAtEstimate: null }), 1)).toBe(4_750);
  });

  it("agreement holds within the tolerances and names what is off", () => {
    const strikes = [{ ok: true, waitMs: 10, latencyMs: 100, reused: true }];
    const live = liveMetrics({ allocations: [alloc({})], strikes, leaked: 0, expired: 0, timeScale: 1, slo: { latency_slo_ms: 2000, ttft_slo_ms: null, tpot_slo_ms: null } });
    expect(compareRuns(live, live).agreement).toBe("ok");
    const costly = { ...live, costUsd: live.costUsd * 1.5 };
    const cmp = compareRuns(costly, live);
    expect(cmp.agreement).toBe("off");
    expect(cmp.reasons.join()).toMatch(/cost/);
    expect(compareRuns({ ...live, leaked: 1 }, live).reasons.join()).toMatch(/leaked 1/);
  });
});

describe("sweep", () => {
  const m = (costUsd: number, sloAttainment: number, p50 = 500, p95 = 1500) =>
    ({ costUsd, sloAttainment, latencyMs: { p50, p95, p99: p95, max: p95 } }) as unknown as RunMetrics;

  it("the frontier keeps exactly the points no other point beats on both cost and SLO attainment", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 30 }), (raw) => {
        const points = raw.map(([c, a], i) => ({ i, metrics: m(c, a / 20) }));
        const front = new Set(frontier(points).map((p) => p.i));
        for (const p of points) {
          const beaten = points.some(
            (q) => q.metrics.costUsd <= p.metrics.costUsd && q.metrics.sloAttainment >= p.metrics.sloAttainment && (q.metrics.costUsd < p.metrics.costUsd || q.metrics.sloAttainment > p.metrics.sloAttainment),
          );
          const duplicateKept = points.some((q) => q.i !== p.i && front.has(q.i) && q.metrics.costUsd === p.metrics.costUsd && q.metrics.sloAttainment === p.metrics.sloAttainment);
          expect(front.has(p.i)).toBe(!beaten && !duplicateKept);
        }
      }),
    );
  });

  it("a point is never worse for the user when it attains no less and is no slower at p50 and p95", () => {
    const baseline = m(1, 0.98, 500, 1500);
    expect(userDominates(m(0.6, 0.98, 500, 1500), baseline)).toBe(true);
    expect(userDominates(m(0.6, 0.97, 400, 1400), baseline)).toBe(false);
    expect(userDominates(m(0.6, 0.99, 501, 1400), baseline)).toBe(false);
    expect(userDominates(m(0.6, 0.99, 400, 1501), baseline)).toBe(false);
    const points = [{ metrics: m(0.5, 0.97) }, { metrics: m(0.7, 0.99, 450, 1450) }, { metrics: m(0.8, 0.99, 400, 1400) }];
    expect(cheapestDominating(points, baseline)).toBe(points[1]);
  });

  it("the grid covers every combination of its knobs once, and every point is a valid covenant", () => {
    const points = sweepPoints();
    const keys = new Set(points.map(knobsText));
    expect(keys.size).toBe(points.length);
    expect(points.length).toBe(7 * 3 * 2 * 2 * 3);
    for (const k of points) expect(covenantFor(k).lease).toMatchObject(k);
  });
});
