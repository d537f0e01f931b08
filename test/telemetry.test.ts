// The pure metric model: registry, merge of two sources, and Prometheus text exposition; plus the
// MetricsBook's write-through to SQLite, run inside a real Durable Object's storage.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MetricsBook } from "../src/telemetry/book";
import { collect } from "../src/telemetry/collect";
import { renderExposition } from "../src/telemetry/exposition";
import { M } from "../src/telemetry/metrics";
import { defineMetric, emptySnapshot, inc, merge, observe, set, type Snapshot } from "../src/telemetry/registry";

const requests = defineMetric({ name: "t_requests_total", help: "Requests.", kind: "counter", labels: ["route", "code"] });
const latency = defineMetric({ name: "t_latency_seconds", help: "Latency.", kind: "histogram", labels: ["pool"], buckets: [0.1, 0.5, 1] });
const live = defineMetric({ name: "t_live", help: "Live.", kind: "gauge", labels: ["pool"], merge: "sum" });
const phase = defineMetric({ name: "t_phase", help: "Phase.", kind: "gauge", labels: ["target"], merge: "max" });

describe("registry", () => {
  it("adds to counters per label set and refuses to go down", () => {
    const s = emptySnapshot();
    inc(s, requests, { route: "/a", code: 200 });
    inc(s, requests, { route: "/a", code: 200 }, 2);
    inc(s, requests, { route: "/b", code: 500 });
    expect(s.metrics.t_requests_total!.series).toEqual({ '["/a","200"]': 3, '["/b","500"]': 1 });
    expect(() => inc(s, requests, {}, -1)).toThrow(/>= 0/);
    expect(() => inc(s, requests, {}, Number.NaN)).toThrow();
    expect(() => set(s, requests, {}, 1)).toThrow(/not a gauge/);
  });

  it("puts an observation on a bucket's bound into that bucket (le) and beyond the last into +Inf", () => {
    const s = emptySnapshot();
    for (const v of [0.05, 0.1, 0.3, 1, 7]) observe(s, latency, { pool: "p" }, v);
    expect(s.metrics.t_latency_seconds!.series['["p"]']).toEqual({ counts: [2, 1, 1, 1], sum: 8.45, count: 5 });
  });

  it("refuses malformed definitions where they are declared", () => {
    expect(() => defineMetric({ name: "bad-name", help: "", kind: "counter", labels: [] })).toThrow(/metric name/);
    expect(() => defineMetric({ name: "x", help: "", kind: "counter", labels: ["le"] })).toThrow(/label name/);
    expect(() => defineMetric({ name: "x", help: "", kind: "histogram", labels: [], buckets: [1, 1] })).toThrow(/increasing/);
  });
});

describe("merge", () => {
  function source(reqs: number, obs: number[], liveN: number, phaseN: number): Snapshot {
    const s = emptySnapshot();
    inc(s, requests, { route: "/a", code: 200 }, reqs);
    for (const v of obs) observe(s, latency, { pool: "p" }, v);
    set(s, live, { pool: "p" }, liveN);
    set(s, phase, { target: "t" }, phaseN);
    return s;
  }

  it("sums counters and histogram buckets, combines gauges by their rule, and leaves its inputs alone", () => {
    const a = source(3, [0.0625, 2], 2, 0);
    const b = source(4, [0.25], 5, 2);
    const before = structuredClone(a);
    const { snapshot, conflicts } = merge(a, b);
    expect(conflicts).toEqual([]);
    expect(snapshot.metrics.t_requests_total!.series['["/a","200"]']).toBe(7);
    expect(snapshot.metrics.t_latency_seconds!.series['["p"]']).toEqual({ counts: [1, 1, 0, 1], sum: 2.3125, count: 3 });
    expect(snapshot.metrics.t_live!.series['["p"]']).toBe(7);
    expect(snapshot.metrics.t_phase!.series['["t"]']).toBe(2);
    expect(a).toEqual(before);
  });

  it("keeps series only one source has, and leaves out a metric whose buckets differ", () => {
    const a = source(1, [0.05], 1, 0);
    const b = emptySnapshot();
    inc(b, requests, { route: "/b", code: 404 });
    observe(b, { ...latency, buckets: [1, 2] }, { pool: "p" }, 0.05);
    const { snapshot, conflicts } = merge(a, b);
    expect(Object.keys(snapshot.metrics.t_requests_total!.series).sort()).toEqual(['["/a","200"]', '["/b","404"]']);
    expect(conflicts).toEqual(["t_latency_seconds"]);
    expect(snapshot.metrics.t_latency_seconds!.series['["p"]']).toEqual({ counts: [1, 0, 0, 0], sum: 0.05, count: 1 });
  });

  it("is the same whichever order sources answer in", () => {
    const xs = [source(1, [0.2], 1, 1), source(2, [0.7, 3], 0, 2), source(5, [], 4, 0)];
    const fold = (order: Snapshot[]) => order.reduce((acc, s) => merge(acc, s).snapshot, emptySnapshot());
    expect(renderExposition(fold(xs))).toBe(renderExposition(fold([...xs].reverse())));
  });
});

describe("exposition (text format 0.0.4)", () => {
  it("renders HELP, TYPE, sorted series, cumulative buckets, +Inf, _sum and _count", () => {
    const s = emptySnapshot();
    inc(s, requests, { route: "/b", code: 500 });
    inc(s, requests, { route: "/a", code: 200 }, 2);
    for (const v of [0.05, 0.3, 7]) observe(s, latency, { pool: "p" }, v);
    expect(renderExposition(s)).toBe(
      [
        "# HELP t_latency_seconds Latency.",
        "# TYPE t_latency_seconds histogram",
        't_latency_seconds_bucket{pool="p",le="0.1"} 1',
        't_latency_seconds_bucket{pool="p",le="0.5"} 2',
        't_latency_seconds_bucket{pool="p",le="1"} 2',
        't_latency_seconds_bucket{pool="p",le="+Inf"} 3',
        't_latency_seconds_sum{pool="p"} 7.35',
        't_latency_seconds_count{pool="p"} 3',
        "# HELP t_requests_total Requests.",
        "# TYPE t_requests_total counter",
        't_requests_total{route="/a",code="200"} 2',
        't_requests_total{route="/b",code="500"} 1',
        "",
      ].join("\n"),
    );
  });

  it("escapes label values and help text, and leaves out empty labels", () => {
    const odd = defineMetric({ name: "t_odd", help: 'back\\slash\nnewline "quoted"', kind: "gauge", labels: ["a", "b"] });
    const s = emptySnapshot();
    set(s, odd, { a: 'x"y\\z\nw', b: "" }, Number.POSITIVE_INFINITY);
    set(s, odd, { a: "", b: "" }, Number.NaN);
    expect(renderExposition(s).split("\n")).toEqual([
      '# HELP t_odd back\\\\slash\\nnewline "quoted"',
      "# TYPE t_odd gauge",
      "t_odd NaN",
      't_odd{a="x\\"y\\\\z\\nw"} +Inf',
      "",
    ]);
  });
});

describe("collect", () => {
  it("merges every source that answers, asks a failing one twice, and names the ones that did not answer", async () => {
    const one = emptySnapshot();
    inc(one, requests, { route: "/a", code: 200 }, 2);
    const two = emptySnapshot();
    inc(two, requests, { route: "/a", code: 200 }, 3);
    const sources: Record<string, () => Snapshot> = {
      one: () => one,
      two: () => two,
      down: () => {
        throw new Error("object unreachable");
      },
    };
    let asked = 0;
    const { snapshot, failed } = await collect(Object.keys(sources), (n) => ({ metricsSnapshot: async () => (asked++, sources[n]!()) }));
    expect(failed).toEqual(["down"]);
    expect(asked).toBe(4);
    const text = renderExposition(snapshot);
    expect(text).toContain('t_requests_total{route="/a",code="200"} 5\n');
    expect(text).toContain('homeskillet_metrics_sources{result="ok"} 2\n');
    expect(text).toContain('homeskillet_metrics_sources{result="failed"} 1\n');
  });

  it("takes a source that fails once and answers on the retry", async () => {
    const one = emptySnapshot();
    inc(one, requests, { route: "/a", code: 200 }, 2);
    let calls = 0;
    const flaky = { metricsSnapshot: async () => (++calls === 1 ? Promise.reject(new Error("moved")) : one) };
    const { snapshot, failed } = await collect(["flaky"], () => flaky);
    expect(failed).toEqual([]);
    expect(renderExposition(snapshot)).toContain('t_requests_total{route="/a",code="200"} 2\n');
  });
});

describe("MetricsBook", () => {
  // Any SQLite-backed object gives the book real storage; the MetricsIndex is the smallest.
  const stub = () => env.METRICS_INDEX.get(env.METRICS_INDEX.idFromName(`book-test-${crypto.randomUUID()}`));

  it("writes each event through to SQLite, so a new book on the same storage reads the same values", async () => {
    await runInDurableObject(stub(), async (_obj, ctx) => {
      const registered: string[] = [];
      const opts = { objectName: () => "dev:c1", register: async (n: string) => void registered.push(n), gauges: () => null };
      const book = new MetricsBook(ctx.storage.sql, opts);
      const strike = { tenant: "dev", covenant: "c1", model: "mistral-7b", pool: "standard-us-east", outcome: "ok" as const, allocated: true };
      book.strikeFinished({ ...strike, allocateMs: 80, inferMs: 300, costUsd: 0.001, promptTokens: 10, completionTokens: 20 });
      book.strikeFinished({ ...strike, allocated: false, allocateMs: 0, inferMs: 700, costUsd: 0.002, promptTokens: 5, completionTokens: 7 });
      book.strikeFinished({ tenant: "dev", covenant: "c1", model: "mistral-7b", pool: null, outcome: "error", errorType: "capacity_exhausted" });
      book.leaseReleased({ pool: "standard-us-east", busyMs: 1500, heldMs: 6000 });
      await book.settled();
      expect(registered).toEqual(["dev:c1"]);

      const text = renderExposition(new MetricsBook(ctx.storage.sql, opts).snapshot());
      expect(text).toBe(renderExposition(book.snapshot()));
      expect(text).toContain('homeskillet_strikes_total{tenant="dev",covenant="c1",model="mistral-7b",pool="standard-us-east",outcome="ok"} 2\n');
      expect(text).toContain('homeskillet_strikes_total{tenant="dev",covenant="c1",model="mistral-7b",outcome="error",error_type="capacity_exhausted"} 1\n');
      // Only the strike that allocated is in the allocation histogram; both inferences are.
      expect(text).toContain('homeskillet_allocation_duration_seconds_count{pool="standard-us-east",purpose="strike"} 1\n');
      expect(text).toContain('homeskillet_inference_duration_seconds_count{pool="standard-us-east",model="mistral-7b"} 2\n');
      expect(text).toContain('homeskillet_inference_duration_seconds_sum{pool="standard-us-east",model="mistral-7b"} 1\n');
      expect(text).toContain('homeskillet_tokens_total{tenant="dev",covenant="c1",model="mistral-7b",pool="standard-us-east",kind="completion"} 27\n');
      expect(text).toContain('homeskillet_cost_usd_total{tenant="dev",covenant="c1",model="mistral-7b",pool="standard-us-east"} 0.003\n');
      expect(text).toContain('homeskillet_lease_busy_seconds_total{pool="standard-us-east"} 1.5\n');
      expect(text).toContain('homeskillet_lease_allocated_seconds_total{pool="standard-us-east"} 6\n');

      // Registered once: a later book on the same storage does not announce itself again.
      const again = new MetricsBook(ctx.storage.sql, opts);
      again.attemptFailed({ target: "standard-us-east", type: "upstream_error" });
      await again.settled();
      expect(registered).toEqual(["dev:c1"]);
    });
  });

  it("books events together in one write, each series at its latest value, all of it read back", async () => {
    await runInDurableObject(stub(), async (_obj, ctx) => {
      const opts = { objectName: () => "dev:c3", register: async () => {}, gauges: () => null };
      const book = new MetricsBook(ctx.storage.sql, opts);
      const strike = { tenant: "dev", covenant: "c3", model: "mistral-7b", pool: "standard-us-east", outcome: "ok" as const, allocated: false, inferMs: 200, promptTokens: 3, completionTokens: 4 };
      const stored = () => ctx.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM metric_series WHERE labels LIKE '%"c3"%'`).one().n;
      let written = -1;
      book.together(() => {
        book.strikeFinished(strike);
        book.strikeFinished(strike);
        book.requestFinished({ pool: "standard-us-east", model: "mistral-7b", ms: 250, slo: { tenant: "dev", covenant: "c3", met: true } });
        // Nothing is written until the booking returns.
        written = stored();
      });
      expect(written).toBe(0);
      expect(stored()).toBeGreaterThan(0);
      const text = renderExposition(new MetricsBook(ctx.storage.sql, opts).snapshot());
      expect(text).toContain('homeskillet_strikes_total{tenant="dev",covenant="c3",model="mistral-7b",pool="standard-us-east",outcome="ok"} 2\n');
      expect(text).toContain('homeskillet_tokens_total{tenant="dev",covenant="c3",model="mistral-7b",pool="standard-us-east",kind="completion"} 8\n');
      expect(text).toContain('homeskillet_slo_requests_total{tenant="dev",covenant="c3",met="true"} 1\n');
      expect(text).toContain('homeskillet_request_duration_seconds_count{pool="standard-us-east",model="mistral-7b"} 1\n');
    });
  });

  it("retries registration after a failure, and reads gauges only when asked", async () => {
    await runInDurableObject(stub(), async (_obj, ctx) => {
      let attempts = 0;
      let queue = 3;
      const book = new MetricsBook(ctx.storage.sql, {
        objectName: () => "dev:c2",
        register: async () => {
          if (++attempts === 1) throw new Error("index unreachable");
        },
        gauges: () => ({
          tenant: "dev",
          covenant: "c2",
          leases: [{ pool: "p1", inFlight: 1 }, { pool: "p1", inFlight: 0 }, { pool: "p2", inFlight: 2 }],
          queueDepth: queue,
          breakers: [{ target: "p2", phase: "open" }],
        }),
      });
      book.fusedFinished({ tenant: "dev", covenant: "c2", strategy: "split", outcome: "ok", cache: ["hit"] });
      await book.settled();
      book.fusedFinished({ tenant: "dev", covenant: "c2", strategy: "split", outcome: "error", errorType: "fusion_failed", cache: ["miss"] });
      await book.settled();
      expect(attempts).toBe(2);
      queue = 0;
      const text = renderExposition(book.snapshot());
      expect(text).toContain('homeskillet_leases_live{tenant="dev",covenant="c2",pool="p1"} 2\n');
      expect(text).toContain('homeskillet_strikes_in_flight{tenant="dev",covenant="c2"} 3\n');
      expect(text).toContain('homeskillet_queue_depth{tenant="dev",covenant="c2"} 0\n');
      expect(text).toContain('homeskillet_breaker_state{tenant="dev",covenant="c2",target="p2"} 2\n');
      // Gauges are never stored: a fresh book without a gauge reader has none.
      const stored = new MetricsBook(ctx.storage.sql, { objectName: () => undefined, register: async () => {}, gauges: () => null }).snapshot();
      expect(stored.metrics[M.queueDepth.name]).toBeUndefined();
      expect(stored.metrics[M.cacheLookups.name]!.series).toEqual({ '["dev","c2","hit"]': 1, '["dev","c2","miss"]': 1 });
      expect(stored.metrics[M.fusedRequests.name]!.series).toEqual({ '["dev","c2","split","ok",""]': 1, '["dev","c2","split","error","fusion_failed"]': 1 });
    });
  });
});
