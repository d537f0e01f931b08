// GET /metrics through the gateway: operator-key auth, and values that follow real strikes across
// covenant objects, merged at the edge.
import { describe, expect, it } from "vitest";
import { EXPOSITION_CONTENT_TYPE } from "../src/telemetry";
import { createCovenant, eventually } from "./support/covenants";
import { call, KEYS, strike } from "./support/gateway";

/** Parses exposition text into `name{labels}` → value, checking every line has the 0.0.4 shape. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]!.replace("+Inf", "Infinity")));
  }
  return out;
}

async function scrape(): Promise<Map<string, number>> {
  const res = await call("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
  return parse(await res.text());
}

/** Sum of every series of `name` whose labels include all of `labels`. */
function total(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, v] of metrics) {
    if (!(series === name || series.startsWith(`${name}{`))) continue;
    if (Object.entries(labels).every(([k, val]) => series.includes(`${k}="${val}"`))) sum += v;
  }
  return sum;
}

describe("SLO attainment (homeskillet_slo_requests_total)", () => {
  it("counts each answered strike as met or missed by its covenant's SLO, plain and streamed", async () => {
    // Generous bounds everywhere: every strike meets them. A 50 ms end-to-end bound: the emulator
    // alone takes longer (at least 615 of 1024 tokens at 7 ms each, scaled by 0.02: 86 ms).
    const loose = await createCovenant({ models: ["mistral-7b"], qos: { latency_slo_ms: 600_000, ttft_slo_ms: 600_000, tpot_slo_ms: 60_000 } });
    const tight = await createCovenant({ models: ["mistral-7b"], qos: { latency_slo_ms: 50 } });
    for (let i = 0; i < 2; i++) expect((await strike({ covenant_id: loose.id, model: "mistral-7b", prompt: `loose ${i}`, max_tokens: 16 })).status).toBe(200);
    const streamed = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": loose.id },
      body: JSON.stringify({ model: "mistral-7b", messages: [{ role: "user", content: "Count to five." }], max_tokens: 12, stream: true }),
    });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain("[DONE]");
    const slow = await strike({ covenant_id: tight.id, model: "mistral-7b", prompt: "a long answer", max_tokens: 1024 });
    expect(slow.status).toBe(200);

    const after = await eventually(scrape, (m) => total(m, "homeskillet_slo_requests_total", { covenant: loose.id }) === 3);
    expect(total(after, "homeskillet_slo_requests_total", { tenant: "dev", covenant: loose.id, met: "true" })).toBe(3);
    expect(total(after, "homeskillet_slo_requests_total", { covenant: loose.id, met: "false" })).toBe(0);
    expect(total(after, "homeskillet_slo_requests_total", { covenant: tight.id, met: "false" })).toBe(1);
    expect(total(after, "homeskillet_slo_requests_total", { covenant: tight.id, met: "true" })).toBe(0);
  });
});

describe("GET /metrics", () => {
  it("refuses a missing or wrong key, and a tenant's key, with 401 JSON", async () => {
    for (const key of [null, "not-a-key", KEYS.acme]) {
      const res = await call("/metrics", { key });
      expect(res.status, String(key)).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("unauthorized");
    }
  });

  it("counts strikes, tokens and cost per covenant, and sums latency histograms across covenant objects", async () => {
    const before = await scrape();
    const [a, b] = [await createCovenant({ policy: "seed" }), await createCovenant({ models: ["mistral-7b"] })];
    const bodies = [];
    for (const covenant_id of [a.id, a.id, b.id]) {
      const res = await strike({ covenant_id, model: "mistral-7b", prompt: "Explain vGPU slicing in one sentence.", max_tokens: 16 });
      expect(res.status).toBe(200);
      bodies.push((await res.json()) as { pool_id: string; lease_reused: boolean; cost_usd: number; usage: { prompt_tokens: number; completion_tokens: number } });
    }
    // A model the covenant does not allow is refused inside the covenant object: an error outcome.
    const refused = await strike({ covenant_id: b.id, model: "gemma-2b-it", prompt: "hi", max_tokens: 4 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("model_not_allowed");

    const after = await scrape();
    const ok = (id: string) => total(after, "homeskillet_strikes_total", { tenant: "dev", covenant: id, outcome: "ok" });
    expect(ok(a.id)).toBe(2);
    expect(ok(b.id)).toBe(1);
    const completion = (id: string) => total(after, "homeskillet_tokens_total", { covenant: id, kind: "completion" });
    expect(completion(a.id)).toBe(bodies[0]!.usage.completion_tokens + bodies[1]!.usage.completion_tokens);
    expect(completion(b.id)).toBe(bodies[2]!.usage.completion_tokens);
    expect(total(after, "homeskillet_cost_usd_total", { covenant: a.id })).toBeCloseTo(bodies[0]!.cost_usd + bodies[1]!.cost_usd, 12);

    // Histograms carry no covenant label: the edge adds up both objects' buckets.
    const inferences = (m: Map<string, number>) => total(m, "homeskillet_inference_duration_seconds_count", { model: "mistral-7b" });
    expect(inferences(after) - inferences(before)).toBeGreaterThanOrEqual(3);
    const allocations = bodies.filter((x) => !x.lease_reused).length;
    const allocCount = (m: Map<string, number>) => total(m, "homeskillet_allocation_duration_seconds_count", { purpose: "strike" });
    expect(allocCount(after) - allocCount(before)).toBeGreaterThanOrEqual(allocations);
    expect(total(after, "homeskillet_metrics_sources", { result: "failed" })).toBe(0);

    expect(total(after, "homeskillet_strikes_total", { covenant: b.id, outcome: "error", error_type: "model_not_allowed" })).toBe(1);
    expect(total(after, "homeskillet_strikes_total", { covenant: b.id })).toBe(2);
    // Gauges describe now: the covenant that keeps warm leases reports its queue as empty.
    expect(after.get(`homeskillet_queue_depth{tenant="dev",covenant="${b.id}"}`)).toBe(0);
  });

  it("books a fused request's fragments as strikes, the request as fused, and its cache outcomes", async () => {
    const { id } = await createCovenant({});
    const prompt = "Answer these:\n1. What is a GPU?\n2. What is a lease?\n3. What is a covenant?";
    for (let i = 0; i < 2; i++) {
      const res = await strike({ covenant_id: id, prompt, max_tokens: 12, fusion: { strategy: "split" } });
      expect(res.status).toBe(200);
    }
    const m = await scrape();
    expect(total(m, "homeskillet_fused_requests_total", { covenant: id, strategy: "split", outcome: "ok" })).toBe(2);
    // The first request computed three fragments, the second found all three in the result cache.
    expect(total(m, "homeskillet_strikes_total", { covenant: id, outcome: "ok" })).toBe(3);
    expect(total(m, "homeskillet_cache_lookups_total", { covenant: id, result: "miss" })).toBe(3);
    expect(total(m, "homeskillet_cache_lookups_total", { covenant: id, result: "hit" })).toBe(3);
    expect(total(m, "homeskillet_tokens_total", { covenant: id, kind: "completion" })).toBeGreaterThan(0);
  });

  it("counts failed attempts per target", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"], fallback: ["local"] });
    const before = total(await scrape(), "homeskillet_attempt_failures_total", { target: "local", type: "model_not_served" });
    const res = await strike({ covenant_id: id, prompt: "hi", max_tokens: 4 });
    expect(res.status).toBe(503);
    const after = total(await scrape(), "homeskillet_attempt_failures_total", { target: "local", type: "model_not_served" });
    expect(after - before).toBe(1);
  });
});
