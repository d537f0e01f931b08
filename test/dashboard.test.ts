// The dashboard's pure core: quantiles from buckets, readings of a merged snapshot, history points
// from the difference of two readings, and the summary the page draws.
import { describe, expect, it } from "vitest";
import { bucketQuantile, buildSummary, LATENCY_WINDOW_MS, quantilesOf, trendOf, type SummaryInput } from "../src/dashboard";
import { deriveGauges, emptySnapshot, EDGE_METRICS, inc, METRICS as M, observe, OTHER, readingOf, set, SPLIT_KEYS, type Reading, type Snapshot } from "../src/telemetry";

const T0 = Date.UTC(2026, 3, 20, 12, 0, 0);

/** One covenant's worth of traffic, added to `s`: `ok` strikes on a pool, `failed` refused. */
function traffic(s: Snapshot, o: { tenant?: string; model?: string; pool?: string; ok?: number; failed?: number; usd?: number; inferS?: number[] }): Snapshot {
  const who = { tenant: o.tenant ?? "acme", covenant: "default", model: o.model ?? "mistral-7b", pool: o.pool ?? "standard-us-east" };
  if (o.ok) inc(s, M.strikes, { ...who, outcome: "ok", error_type: "" }, o.ok);
  if (o.failed) inc(s, M.strikes, { ...who, pool: "", outcome: "error", error_type: "capacity_exhausted" }, o.failed);
  if (o.usd) inc(s, M.costUsd, who, o.usd);
  if (o.ok) inc(s, M.tokens, { ...who, kind: "completion" }, 10 * o.ok);
  for (const v of o.inferS ?? []) observe(s, M.inferenceSeconds, { pool: who.pool, model: who.model }, v);
  return s;
}

/** A pool's upstream columns before any lease of it was read. */
const NO_READING = { leases_sampled: 0, upstream_utilisation: null, memory_used_bytes: 0, memory_allocated_bytes: 0, memory_used_ratio: null };

function input(snapshot: Snapshot, extra: Partial<SummaryInput> = {}): SummaryInput {
  return { snapshot, sources: ["dev:a", "dev:b"], failed: [], now: T0, readings: [], recorded: false, ...extra };
}

describe("bucketQuantile", () => {
  const bounds = [0.1, 0.5, 1];
  it("interpolates inside the bucket holding the rank, as histogram_quantile does", () => {
    // Observations: 2 at ≤0.1, 1 in (0.1, 0.5], 1 in (0.5, 1], 1 above 1.
    expect(bucketQuantile(bounds, [2, 1, 1, 1], 0.5)).toBeCloseTo(0.3, 12);
    expect(bucketQuantile(bounds, [2, 1, 1, 1], 0.2)).toBeCloseTo(0.05, 12);
    expect(bucketQuantile(bounds, [0, 4, 0, 0], 0.25)).toBeCloseTo(0.2, 12);
  });
  it("answers the highest finite bound for ranks in +Inf, and null with nothing to rank", () => {
    expect(bucketQuantile(bounds, [2, 1, 1, 1], 0.99)).toBe(1);
    expect(bucketQuantile(bounds, [0, 0, 0, 0], 0.5)).toBeNull();
    expect(bucketQuantile(bounds, [1, 2], 0.5)).toBeNull(); // counts of another shape
  });
  it("gives quantiles and the mean in milliseconds", () => {
    expect(quantilesOf(bounds, { counts: [0, 2, 0, 0], sum: 0.6, count: 2 })).toEqual({ count: 2, p50_ms: 300, p95_ms: 480, p99_ms: 496, mean_ms: 300 });
    expect(quantilesOf(bounds, null)).toMatchObject({ count: 0, p50_ms: null, mean_ms: null });
  });
});

describe("readings and history points", () => {
  it("turns two readings into rates per minute, the window's error rate and latency of new observations only", () => {
    const before = traffic(emptySnapshot(), { ok: 10, usd: 1, inferS: [2, 2, 2] });
    const after = traffic(traffic(emptySnapshot(), { ok: 10, usd: 1, inferS: [2, 2, 2] }), { ok: 4, failed: 1, usd: 0.5, model: "qwen-14b", pool: "premium-us-east", inferS: [0.04, 0.04] });
    const [point] = trendOf([readingOf(before, T0), readingOf(after, T0 + 30_000)]);
    expect(point).toMatchObject({ t: T0 + 30_000, interval_s: 30, strikes_per_min: 10, errors_per_min: 2, tokens_per_min: 80 });
    expect(point!.error_rate).toBeCloseTo(0.2, 12);
    expect(point!.spend_usd_per_min).toBeCloseTo(1, 12);
    expect(point!.spend_by.pool).toEqual({ "premium-us-east": 1, "standard-us-east": 0 });
    expect(point!.spend_by.model).toEqual({ "qwen-14b": 1, "mistral-7b": 0 });
    expect(point!.spend_by.tenant).toEqual({ acme: 1 });
    // Only the two 40 ms inferences happened in the window; the earlier 2 s ones do not count.
    expect(point!.inference_p50_ms).toBeCloseTo(37.5, 9);
    expect(point!.inference_p99_ms).toBeLessThanOrEqual(50);
    expect(point!.allocation_p50_ms).toBeNull();
  });

  it("takes error rate and latency over the trailing minute, and utilisation over five", () => {
    const s = emptySnapshot();
    const readings = [];
    for (let i = 0; i <= 12; i++) {
      // One failed strike in the first interval only; a lease released every minute, busy a quarter of it.
      if (i === 1) traffic(s, { failed: 1 });
      traffic(s, { ok: 1, inferS: [0.2] });
      if (i % 6 === 0) {
        inc(s, M.leaseBusySeconds, { pool: "standard-us-east" }, 15);
        inc(s, M.leaseHeldSeconds, { pool: "standard-us-east" }, 60);
      }
      readings.push(readingOf(s, T0 + i * 10_000));
    }
    const points = trendOf(readings);
    expect(points).toHaveLength(12);
    expect(points[0]!.error_rate).toBeCloseTo(1 / 2, 12);
    // Ten seconds apart, the trailing minute of point i starts at reading i-5: the failure drops out.
    expect(points[5]!.error_rate).toBeCloseTo(1 / 7, 12);
    expect(points[6]!.error_rate).toBe(0);
    expect(points[11]!.utilisation["standard-us-east"]).toBeCloseTo(0.25, 12);
    expect(LATENCY_WINDOW_MS).toBe(60_000);
  });

  it("keeps `since` out, and reads counters that went down (a mixed deploy) as no change", () => {
    const big = traffic(emptySnapshot(), { ok: 5, usd: 2 });
    const small = traffic(emptySnapshot(), { ok: 3, usd: 1 });
    const readings = [readingOf(big, T0), readingOf(small, T0 + 5_000), readingOf(big, T0 + 10_000)];
    const points = trendOf(readings, T0 + 5_000);
    expect(points.map((p) => p.t)).toEqual([T0 + 10_000]);
    expect(trendOf(readings)[0]).toMatchObject({ strikes_per_min: 0, spend_usd_per_min: 0 });
  });

  it("keeps the largest cost keys and adds the rest under OTHER, whose newcomers are not read as bursts", () => {
    const s = emptySnapshot();
    for (let i = 0; i < SPLIT_KEYS + 3; i++) traffic(s, { tenant: `t${String(i).padStart(2, "0")}`, ok: 1, usd: i + 1 });
    const r = readingOf(s, T0);
    expect(Object.keys(r.cost.tenant)).toHaveLength(SPLIT_KEYS + 1);
    expect(r.cost.tenant[OTHER]).toBe(1 + 2 + 3);
    expect(r.cost.tenant.t14).toBe(15);
    traffic(s, { tenant: "t00", ok: 1, usd: 100 }); // t00 climbs out of OTHER
    const [p] = trendOf([r, readingOf(s, T0 + 60_000)]);
    expect(p!.spend_by.tenant.t00).toBe(0);
  });
});

describe("buildSummary", () => {
  it("adds up strikes, errors, spend and tokens by tenant, model and pool", () => {
    const s = traffic(traffic(emptySnapshot(), { ok: 3, failed: 1, usd: 0.3, inferS: [0.2, 0.2, 0.3] }), { tenant: "globex", model: "gemma-2b-it", pool: "preemptible-us-east", ok: 2, usd: 0.1, inferS: [0.04, 0.04] });
    inc(s, M.attemptFailures, { target: "standard-us-east", type: "upstream_error" }, 4);
    inc(s, M.upstreamFailures, { operation: "infer", kind: "timeout", pool: "standard-us-east" }, 2);
    inc(s, M.upstreamFailures, { operation: "allocate", kind: "error", pool: "premium-us-east" }, 3);
    inc(s, M.upstreamFailures, { operation: "token", kind: "error", pool: "" }, 1);
    const out = buildSummary(input(s));
    expect(out.strikes).toEqual({ total: 6, ok: 5, error: 1, error_rate: 1 / 6, by_error_type: [{ type: "capacity_exhausted", count: 1, share: 1 }] });
    expect(out.cost.total_usd).toBeCloseTo(0.4, 12);
    expect(out.cost.by_tenant).toEqual([
      { key: "acme", usd: 0.3, tokens: 30, strikes: 3, usd_per_1k_tokens: expect.closeTo(10, 12) },
      { key: "globex", usd: 0.1, tokens: 20, strikes: 2, usd_per_1k_tokens: expect.closeTo(5, 12) },
    ]);
    expect(out.cost.by_pool.map((r) => r.key)).toEqual(["standard-us-east", "preemptible-us-east"]);
    expect(out.cost.tokens).toEqual({ prompt: 0, completion: 50 });
    expect(out.attempt_failures).toEqual([{ target: "standard-us-east", type: "upstream_error", count: 4 }]);
    expect(out.upstream_failures).toEqual([
      { operation: "allocate", kind: "error", pool: "premium-us-east", count: 3 },
      { operation: "infer", kind: "timeout", pool: "standard-us-east", count: 2 },
      { operation: "token", kind: "error", pool: "", count: 1 },
    ]);
    expect(out.latency.inference.count).toBe(5);
    expect(out.latency.inference_by_model.map((r) => [r.key, r.count])).toEqual([["mistral-7b", 3], ["gemma-2b-it", 2]]);
    expect(out.health).toEqual({ status: "ok", reasons: [] });
  });

  it("reads leases, queue depth and utilisation per pool", () => {
    const s = emptySnapshot();
    set(s, M.liveLeases, { tenant: "acme", covenant: "a", pool: "standard-us-east" }, 2);
    set(s, M.inFlight, { tenant: "acme", covenant: "a" }, 3);
    set(s, M.queueDepth, { tenant: "acme", covenant: "a" }, 1);
    inc(s, M.leaseBusySeconds, { pool: "premium-us-east" }, 30);
    inc(s, M.leaseHeldSeconds, { pool: "premium-us-east" }, 120);
    inc(s, M.leasesReleased, { pool: "premium-us-east" }, 2);
    set(s, EDGE_METRICS.sources, { result: "ok" }, 2); // edge metrics are not resources
    const out = buildSummary(input(s));
    expect(out.resources).toEqual({
      leases_live: 2,
      in_flight: 3,
      queue_depth: 1,
      pools: [
        { pool: "premium-us-east", leases_live: 0, leases_released: 2, busy_s: 30, allocated_s: 120, utilisation: 0.25, utilisation_recent: null, ...NO_READING },
        { pool: "standard-us-east", leases_live: 2, leases_released: 0, busy_s: 0, allocated_s: 0, utilisation: null, utilisation_recent: null, ...NO_READING },
      ],
    });
  });

  it("lists tripped breakers first, counts them by target, and calls the deployment degraded", () => {
    const s = emptySnapshot();
    set(s, M.breakerState, { tenant: "acme", covenant: "a", target: "premium-us-east" }, 0);
    set(s, M.breakerState, { tenant: "acme", covenant: "b", target: "premium-us-east" }, 2);
    set(s, M.breakerState, { tenant: "globex", covenant: "c", target: "local" }, 1);
    const out = buildSummary(input(s));
    expect(out.breakers.rows.map((r) => [r.covenant, r.phase])).toEqual([["b", "open"], ["c", "half_open"], ["a", "closed"]]);
    expect(out.breakers.by_target).toEqual([
      { target: "local", open: 0, half_open: 1, closed: 0 },
      { target: "premium-us-east", open: 1, half_open: 0, closed: 1 },
    ]);
    expect(out.health.status).toBe("degraded");
    expect(out.health.reasons[0]).toMatch(/premium-us-east \(1 open, 0 half open\)/);
  });

  it("says incomplete when objects did not answer, and degraded when the last minute's error rate is high", () => {
    const s = traffic(emptySnapshot(), { ok: 1 });
    const partial = buildSummary(input(s, { failed: ["dev:b"] }));
    expect(partial.health.status).toBe("incomplete");
    expect(partial.sources).toEqual({ total: 2, ok: 1, failed: 1, failed_names: ["dev:b"] });
    const later = traffic(traffic(emptySnapshot(), { ok: 1 }), { ok: 9, failed: 1 });
    const failing = buildSummary(input(later, { readings: [readingOf(s, T0 - 5_000), readingOf(later, T0)] }));
    expect(failing.health.status).toBe("degraded");
    expect(failing.health.reasons).toEqual(["10.0% of strikes failed in the last minute"]);
  });

  it("returns only history points after `since`, with the ring's spacing and retention", () => {
    const s = emptySnapshot();
    const readings = [0, 5_000, 10_000].map((dt) => readingOf(traffic(s, { ok: 1 }), T0 + dt));
    expect(buildSummary(input(s, { readings })).history.points.map((p) => p.t)).toEqual([T0 + 5_000, T0 + 10_000]);
    const out = buildSummary(input(s, { readings, since: T0 + 5_000, recorded: true }));
    expect(out.history).toMatchObject({ spacing_s: 5, retention_s: 3600, recorded: true });
    expect(out.history.points.map((p) => p.t)).toEqual([T0 + 10_000]);
  });
});

describe("the integration document's measures", () => {
  /** A lease's worth of Hosted.AI readings on a pool, as covenant objects report them and the edge merges them. */
  function gpu(s: Snapshot, pool: string, leases: { util: number; usedMb: number; vramMb: number }[]): Snapshot {
    set(s, M.gpuLeasesSampled, { pool }, leases.length);
    set(s, M.gpuUtilizationSum, { pool }, leases.reduce((n, l) => n + l.util, 0));
    set(s, M.gpuMemoryUsedBytes, { pool }, leases.reduce((n, l) => n + l.usedMb, 0) * 2 ** 20);
    set(s, M.gpuMemoryAllocatedBytes, { pool }, leases.reduce((n, l) => n + l.vramMb, 0) * 2 ** 20);
    deriveGauges(s);
    return s;
  }

  it("gives end-to-end request latency beside inference latency, all time and over the trailing minute", () => {
    const s = traffic(emptySnapshot(), { ok: 2, inferS: [0.2, 0.2] });
    for (const v of [0.3, 0.4]) observe(s, M.requestSeconds, { pool: "standard-us-east", model: "mistral-7b" }, v);
    const before = readingOf(s, T0);
    observe(s, M.requestSeconds, { pool: "fused", model: "qwen-14b" }, 7);
    const [p] = trendOf([before, readingOf(s, T0 + 10_000)]);
    // Only the 7 s request is in the window: it lies in the (5, 10] bucket.
    expect(p!.request_p50_ms).toBeGreaterThan(5_000);
    expect(p!.request_p99_ms).toBeLessThanOrEqual(10_000);
    const out = buildSummary(input(s));
    expect(out.latency.request.count).toBe(3);
    expect(out.latency.request_by_pool.map((r) => [r.key, r.count])).toEqual([["standard-us-east", 2], ["fused", 1]]);
    expect(out.latency.request_by_model.map((r) => [r.key, r.count])).toEqual([["mistral-7b", 2], ["qwen-14b", 1]]);
    expect(out.latency.request.mean_ms).toBeCloseTo(((0.3 + 0.4 + 7) / 3) * 1000, 2); // to the microsecond
  });

  it("prices a thousand tokens by pool and model over five minutes, and not where a capped key's past is unknown", () => {
    const s = traffic(emptySnapshot(), { ok: 10, usd: 1 }); // 100 tokens, $1
    const r0 = readingOf(s, T0);
    traffic(s, { ok: 5, usd: 2 }); // +50 tokens, +$2 on the same pool and model
    traffic(s, { ok: 2, usd: 0.2, model: "qwen-14b", pool: "premium-us-east" }); // 20 tokens, $0.2
    const [p] = trendOf([r0, readingOf(s, T0 + 60_000)]);
    expect(p!.usd_per_1k_tokens.pool["standard-us-east"]).toBeCloseTo((2 / 50) * 1000, 9);
    expect(p!.usd_per_1k_tokens.pool["premium-us-east"]).toBeCloseTo((0.2 / 20) * 1000, 9);
    expect(p!.usd_per_1k_tokens.model["mistral-7b"]).toBeCloseTo(40, 9);
    // A window without tokens has no price; a reading from before tokens were kept by key has none either.
    const [idle] = trendOf([readingOf(s, T0 + 60_000), readingOf(s, T0 + 65_000)]);
    expect(idle!.usd_per_1k_tokens.pool["standard-us-east"]).toBeNull();
    const { tokens_by: _dropped, ...old } = r0;
    const [upgraded] = trendOf([old as Reading, readingOf(s, T0 + 60_000)]);
    expect(upgraded!.usd_per_1k_tokens.pool["standard-us-east"]).toBeNull();
    // Twelve keys and the rest as OTHER: a key that was inside OTHER has no known past.
    const capped = emptySnapshot();
    for (let i = 0; i <= SPLIT_KEYS; i++) traffic(capped, { pool: `p${String(i).padStart(2, "0")}`, ok: 20 - i, usd: 20 - i });
    const r1 = readingOf(capped, T0);
    traffic(capped, { pool: `p${SPLIT_KEYS}`, ok: 50, usd: 50 });
    const [q] = trendOf([r1, readingOf(capped, T0 + 60_000)]);
    expect(q!.usd_per_1k_tokens.pool[`p${SPLIT_KEYS}`]).toBeNull();
    // All time, as the cost tables show it: spend over tokens.
    const out = buildSummary(input(s));
    expect(out.cost.by_pool.find((r) => r.key === "standard-us-east")!.usd_per_1k_tokens).toBeCloseTo((3 / 150) * 1000, 9);
  });

  it("counts failed upstream calls per minute by operation and kind", () => {
    const s = emptySnapshot();
    inc(s, M.upstreamFailures, { operation: "infer", kind: "timeout", pool: "standard-us-east" }, 1);
    const r0 = readingOf(s, T0);
    inc(s, M.upstreamFailures, { operation: "infer", kind: "timeout", pool: "premium-us-east" }, 2);
    inc(s, M.upstreamFailures, { operation: "allocate", kind: "error", pool: "premium-us-east" }, 1);
    const [p] = trendOf([r0, readingOf(s, T0 + 30_000)]);
    expect(p!.upstream_failures_per_min).toEqual({ "infer timeout": 4, "allocate error": 2 });
    // A reading from before failures were kept by operation is no baseline: no burst.
    const { upstream_failures: _dropped, ...old } = r0;
    expect(trendOf([old as Reading, readingOf(s, T0 + 30_000)])[0]!.upstream_failures_per_min).toEqual({});
  });

  it("shows Hosted.AI's own utilisation and memory per pool, the mean over every object's sampled leases", () => {
    // Two covenant objects' readings of premium leases, merged: sums and counts add, the edge divides.
    const s = gpu(emptySnapshot(), "premium-us-east", [
      { util: 0.5, usedMb: 14_336, vramMb: 16_384 },
      { util: 0.1, usedMb: 0, vramMb: 16_384 },
      { util: 0.3, usedMb: 6_144, vramMb: 8_192 },
    ]);
    expect(s.metrics[M.gpuUtilizationSum.name]).toBeUndefined(); // internal: never exposed
    const out = buildSummary(input(s));
    const pool = out.resources.pools.find((p) => p.pool === "premium-us-east")!;
    expect(pool.leases_sampled).toBe(3);
    expect(pool.upstream_utilisation).toBeCloseTo(0.3, 12);
    expect(pool.memory_used_bytes).toBe(20_480 * 2 ** 20);
    expect(pool.memory_allocated_bytes).toBe(40_960 * 2 ** 20);
    expect(pool.memory_used_ratio).toBeCloseTo(0.5, 12);
    const [p] = trendOf([readingOf(emptySnapshot(), T0), readingOf(s, T0 + 5_000)]);
    expect(p!.upstream_utilisation["premium-us-east"]).toBeCloseTo(0.3, 12);
    expect(p!.memory_used_ratio["premium-us-east"]).toBeCloseTo(0.5, 12);
  });
});

