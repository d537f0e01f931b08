// The pieces behind the integration document's measures that need no traffic: what kind a failed
// upstream call is, how a covenant object decides which leases to read Hosted.AI's metrics of, how
// it keeps those readings, how the edge turns them into per-pool gauges, and how counts stored
// under a metric's old name are read under its new one.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { UpstreamSampler } from "../src/covenant/upstream-sampler";
import { planUpstreamSamples, UPSTREAM_SAMPLE_INTERVAL_MS, upstreamSampleDueAt } from "../src/policy";
import { UpstreamError } from "../src/providers/errors";
import {
  collect, emptySnapshot, failureKind, inc, merge, METRICS as M, MetricsBook, migrateSnapshot, renderExposition, set, type Snapshot,
} from "../src/telemetry";

describe("failureKind", () => {
  it("tells a preemption and a timeout from every other failure", () => {
    expect(failureKind("allocation_preempted", 409)).toBe("preempted");
    // Our own deadline (no answer), a stream that stalled or whose reader gave up on its deadline, a gateway timeout.
    for (const [type, status] of [["timeout", 0], ["stream_stalled", 0], ["cancelled", 200], ["injected_fault", 504]] as const) {
      expect(failureKind(type, status), type).toBe("timeout");
    }
    for (const [type, status] of [["injected_fault", 500], ["capacity_exhausted", 503], ["network_error", 0], ["stream_cut", 200], ["token_expired", 401]] as const) {
      expect(failureKind(type, status), type).toBe("error");
    }
  });
});

describe("planUpstreamSamples", () => {
  const T = 1_000_000;
  it("reads a lease never read at once, then each at most once an interval, least recently read first", () => {
    expect(upstreamSampleDueAt([], new Map())).toBeNull();
    expect(upstreamSampleDueAt(["a"], new Map())).toBeLessThanOrEqual(T);
    const last = new Map([["a", T - 20_000], ["b", T - 16_000], ["c", T - 1_000]]);
    expect(planUpstreamSamples(["c", "b", "a", "d"], last, T)).toEqual({ sample: ["d", "a", "b"], nextAt: T - 1_000 + UPSTREAM_SAMPLE_INTERVAL_MS });
    expect(planUpstreamSamples(["c"], last, T)).toEqual({ sample: [], nextAt: T - 1_000 + UPSTREAM_SAMPLE_INTERVAL_MS });
  });

  it("reads a bounded number per pass and has the rest due at once", () => {
    const ids = Array.from({ length: 20 }, (_, i) => `a${String(i).padStart(2, "0")}`);
    const first = planUpstreamSamples(ids, new Map(), T, { perPass: 8 });
    expect(first.sample).toEqual(ids.slice(0, 8));
    expect(first.nextAt).toBe(T);
    const done = new Map(first.sample.map((id) => [id, T]));
    expect(planUpstreamSamples(ids, done, T + 1, { perPass: 8 }).sample).toEqual(ids.slice(8, 16));
  });
});

describe("UpstreamSampler", () => {
  const lease = (allocationId: string, poolId = "standard-us-east", vramMb = 6144) => ({ allocationId, poolId, vramMb });

  it("keeps each live lease's latest reading, drops those of leases that went, and asks to reconcile when one is gone upstream", async () => {
    const asked: string[] = [];
    let gone = 0;
    const answers: Record<string, () => unknown> = {
      a: () => ({ allocation_id: "a", gpu_utilization: 0.25, memory_used_mb: 6144, inference_count: 3, average_latency_ms: 40 }),
      b: () => ({ allocation_id: "b", gpu_utilization: 0.75, memory_used_mb: 2048, inference_count: 1, average_latency_ms: 20 }),
      c: () => {
        throw new UpstreamError("hostedai", 410, "allocation_expired", "expired");
      },
      d: () => {
        throw new UpstreamError("hostedai", 0, "timeout", "no answer");
      },
    };
    const client = { metrics: async (id: string) => (asked.push(id), answers[id]!()) } as unknown as ConstructorParameters<typeof UpstreamSampler>[0];
    const sampler = new UpstreamSampler(client, { onGone: () => void gone++ });
    const leases = [lease("a"), lease("b", "premium-us-east", 8192), lease("c"), lease("d")];
    const now = Date.now();
    const next = await sampler.sample(leases, now);
    expect(asked.sort()).toEqual(["a", "b", "c", "d"]);
    expect(next).toBe(now + sampler.intervalMs);
    expect(gone).toBe(1);
    expect(sampler.gauges(leases, now)).toEqual([
      { pool: "standard-us-east", utilization: 0.25, memoryUsedMb: 6144, vramMb: 6144 },
      { pool: "premium-us-east", utilization: 0.75, memoryUsedMb: 2048, vramMb: 8192 },
    ]);
    // Not due again within the interval: nothing is asked.
    await sampler.sample(leases, now + 1);
    expect(asked).toHaveLength(4);
    // A lease that went takes its reading along; a reading that grew stale is no longer a gauge.
    await sampler.sample([lease("b", "premium-us-east", 8192)], now + 2);
    expect(sampler.reading("a")).toBeUndefined();
    expect(sampler.gauges([lease("b", "premium-us-east", 8192)], now + 10 * sampler.intervalMs)).toEqual([]);
  });
});

describe("GPU gauges across covenant objects", () => {
  it("adds sums and counts at the edge and exposes the mean utilisation by pool, never the sum", async () => {
    const objectSnapshot = (readings: { util: number; used: number; vram: number }[]): Snapshot => {
      const s = emptySnapshot();
      set(s, M.gpuLeasesSampled, { pool: "standard-us-east" }, readings.length);
      set(s, M.gpuUtilizationSum, { pool: "standard-us-east" }, readings.reduce((n, r) => n + r.util, 0));
      set(s, M.gpuMemoryUsedBytes, { pool: "standard-us-east" }, readings.reduce((n, r) => n + r.used, 0));
      set(s, M.gpuMemoryAllocatedBytes, { pool: "standard-us-east" }, readings.reduce((n, r) => n + r.vram, 0));
      return s;
    };
    const objects: Record<string, Snapshot> = {
      a: objectSnapshot([{ util: 0.5, used: 100, vram: 200 }]),
      b: objectSnapshot([{ util: 0.25, used: 0, vram: 200 }, { util: 0.75, used: 50, vram: 100 }]),
    };
    const { snapshot } = await collect(Object.keys(objects), (n) => ({ metricsSnapshot: () => objects[n]! }));
    const text = renderExposition(snapshot);
    expect(text).toContain('homeskillet_gpu_utilization_ratio{pool="standard-us-east"} 0.5\n');
    expect(text).toContain('homeskillet_gpu_leases_sampled{pool="standard-us-east"} 3\n');
    expect(text).toContain('homeskillet_gpu_memory_used_bytes{pool="standard-us-east"} 150\n');
    expect(text).toContain('homeskillet_gpu_memory_allocated_bytes{pool="standard-us-east"} 500\n');
    expect(text).not.toContain("homeskillet_gpu_utilization_sum");
  });
});

describe("a renamed metric", () => {
  // Before: homeskillet_upstream_failures_total{target,type} counted failed attempts.
  const OLD = "homeskillet_upstream_failures_total";
  const oldSnapshot = (n: number): Snapshot => ({
    metrics: { [OLD]: { help: "old", kind: "counter", labels: ["target", "type"], series: { [JSON.stringify(["standard-us-east", "upstream_error"])]: n } } },
  });

  it("is read under its new name from an older object's snapshot and the index's retired totals, so merges never conflict", async () => {
    const migrated = migrateSnapshot(oldSnapshot(3));
    expect(Object.keys(migrated.metrics)).toEqual(["homeskillet_attempt_failures_total"]);
    const current = emptySnapshot();
    inc(current, M.attemptFailures, { target: "standard-us-east", type: "upstream_error" }, 2);
    inc(current, M.upstreamFailures, { operation: "infer", kind: "timeout", pool: "standard-us-east" }, 1);
    expect(merge(current, migrated).conflicts).toEqual([]);
    // An object still on the old version, and one on the new, in one scrape.
    const { snapshot } = await collect(["old", "new"], (n) => ({ metricsSnapshot: () => (n === "old" ? oldSnapshot(3) : current) }));
    const text = renderExposition(snapshot);
    expect(text).toContain('homeskillet_attempt_failures_total{target="standard-us-east",type="upstream_error"} 5\n');
    expect(text).toContain('homeskillet_upstream_failures_total{operation="infer",kind="timeout",pool="standard-us-east"} 1\n');
    expect(text).toContain("homeskillet_metrics_merge_conflicts 0\n");
  });

  it("moves a covenant object's stored series to the new name once, keeping the count", async () => {
    const stub = env.METRICS_INDEX.get(env.METRICS_INDEX.idFromName(`rename-test-${crypto.randomUUID()}`));
    await runInDurableObject(stub, async (_obj, ctx) => {
      const opts = { objectName: () => "dev:r1", register: async () => {}, gauges: () => null };
      new MetricsBook(ctx.storage.sql, opts); // creates the table
      ctx.storage.sql.exec(`INSERT INTO metric_series (metric, labels, value) VALUES (?, ?, ?)`, OLD, JSON.stringify(["local", "model_not_served"]), "4");
      const book = new MetricsBook(ctx.storage.sql, opts);
      book.attemptFailed({ target: "local", type: "model_not_served" });
      book.upstreamFailed({ operation: "infer", kind: "error", pool: "local" });
      const text = renderExposition(new MetricsBook(ctx.storage.sql, opts).snapshot());
      expect(text).toContain('homeskillet_attempt_failures_total{target="local",type="model_not_served"} 5\n');
      expect(text).toContain('homeskillet_upstream_failures_total{operation="infer",kind="error",pool="local"} 1\n');
      const stored = ctx.storage.sql.exec<{ metric: string }>(`SELECT metric FROM metric_series ORDER BY metric`).toArray().map((r) => r.metric);
      expect(stored).toEqual(["homeskillet_attempt_failures_total", "homeskillet_upstream_failures_total"]);
    });
  });
});
