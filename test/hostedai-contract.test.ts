// The integration document's own examples, replayed: against the Hosted.AI emulator over plain
// HTTP, through the connector (src/providers/hostedai), and through the gateway. What the document
// states is checked to the letter — request bodies, the metadata keys, the metrics answer — while
// what it leaves open is only ever reached through the one adapter (assumptions.ts).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { allocationMetadata, assumptionsFrom, DEFAULT_ASSUMPTIONS, HostedAiClient } from "../src/providers/hostedai";
import { StrikeResponse } from "../src/schema";
import { createCovenant, deleteCovenant } from "./support/covenants";
import { strike } from "./support/gateway";
import { TEST_KEYS } from "./support/workers";

/** The document's allocation example: a preemptible allocation on a standard pool, tagged for a tenant's workload. */
const allocationExample = (tenant: string, workload: string) => ({
  pool_id: "standard-us-east",
  requirements: { min_tflops: 10, min_vram_mb: 8192, max_vram_mb: 16384 },
  duration_seconds: 3600,
  preemptible: true,
  metadata: { tenant_id: tenant, workload_id: workload },
});
const inferenceExample = { model: "mistral-7b", prompt: "Explain vGPU slicing in one sentence.", max_tokens: 64, temperature: 0.7 };
const METRICS_FIELDS = ["average_latency_ms", "gpu_utilization", "inference_count", "memory_used_mb"];

async function emulator(path: string, init: RequestInit = {}, token?: string): Promise<{ status: number; body: any }> {
  const headers = new Headers(init.headers);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  const res = await env.HOSTEDAI.fetch(`http://hostedai.test${path}`, { ...init, headers });
  return { status: res.status, body: await res.json() };
}

/** The emulator behind a recorder: every request the connector sends, with its body. */
function recorded() {
  const sent: { method: string; path: string; body: any }[] = [];
  const fetcher = {
    async fetch(input: RequestInfo | URL, init?: RequestInit) {
      const req = new Request(input, init);
      const text = req.method === "GET" || req.method === "DELETE" ? "" : await req.clone().text();
      sent.push({ method: req.method, path: new URL(req.url).pathname + new URL(req.url).search, body: text ? JSON.parse(text) : undefined });
      return env.HOSTEDAI.fetch(req);
    },
    connect() {
      throw new Error("not used");
    },
  } as unknown as Fetcher;
  return { fetcher, sent };
}

describe("the integration document's examples, against the emulator", () => {
  it("grants the example allocation (standard-us-east, preemptible), infers on it, and reads its metrics", async () => {
    const { body: auth } = await emulator("/api/v1/auth/token", { method: "POST", body: JSON.stringify({ api_key: TEST_KEYS.hostedai }) });
    const workload = `contract-${crypto.randomUUID().slice(0, 8)}`;
    const granted = await emulator("/api/v1/allocations", { method: "POST", body: JSON.stringify(allocationExample("acme", workload)) }, auth.access_token);
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
    expect(granted.body).toMatchObject({ pool_id: "standard-us-east", preemptible: true, metadata: { tenant_id: "acme", workload_id: workload } });
    const id = granted.body.allocation_id as string;

    const answered = await emulator(`/api/v1/inference/${id}`, { method: "POST", body: JSON.stringify(inferenceExample) }, auth.access_token);
    expect(answered.status).toBe(200);
    expect(answered.body.text.length).toBeGreaterThan(0);

    const metrics = await emulator(`/api/v1/allocations/${id}/metrics`, {}, auth.access_token);
    expect(metrics.status).toBe(200);
    expect(Object.keys(metrics.body).sort()).toEqual(METRICS_FIELDS);
    expect(metrics.body).toMatchObject({ inference_count: 1, memory_used_mb: 6144 });
    expect(metrics.body.gpu_utilization).toBeGreaterThan(0);
    expect(metrics.body.average_latency_ms).toBeGreaterThan(0);

    // A preemptible allocation is billed at the pool's preemptible price.
    const pools = await emulator("/api/v1/pools", {}, auth.access_token);
    const standard = pools.body.pools.find((p: { id: string }) => p.id === "standard-us-east");
    expect(granted.body.price_per_hour).toBeCloseTo(standard.preemptible_price_per_gpu_hour * (8192 / 81920), 9);
    expect((await emulator(`/api/v1/allocations/${id}`, { method: "DELETE" }, auth.access_token)).body.status).toBe("released");
  });
});

describe("the integration document's examples, through the connector", () => {
  it("sends exactly the document's bodies and metadata keys, and reads the document's metrics", async () => {
    const { fetcher, sent } = recorded();
    const client = new HostedAiClient({ baseUrl: `http://hostedai-${crypto.randomUUID()}.test`, apiKey: TEST_KEYS.hostedai, fetcher });
    const workload = `contract-${crypto.randomUUID().slice(0, 8)}`;
    const example = allocationExample("acme", workload);
    const a = await client.allocate({ ...example, metadata: allocationMetadata("acme", workload) });
    expect(a).toMatchObject({ pool_id: "standard-us-east", preemptible: true, metadata: { tenant_id: "acme", workload_id: workload } });
    const r = await client.infer(a.allocation_id, inferenceExample);
    expect(r.text.length).toBeGreaterThan(0);
    const m = await client.metrics(a.allocation_id);
    expect(m).toMatchObject({ inference_count: 1, memory_used_mb: 6144 });
    const bill = await client.release(a.allocation_id);
    expect(bill).toMatchObject({ allocation_id: a.allocation_id, status: "released" });

    // The stated calls, to the letter.
    const stated = sent.filter((s) => !s.path.startsWith(DEFAULT_ASSUMPTIONS.auth.path) && !(s.method === "DELETE"));
    expect(stated).toEqual([
      { method: "POST", path: "/api/v1/allocations", body: example },
      { method: "POST", path: `/api/v1/inference/${a.allocation_id}`, body: inferenceExample },
      { method: "GET", path: `/api/v1/allocations/${a.allocation_id}/metrics`, body: undefined },
    ]);
    // The metadata carries exactly the document's keys.
    expect(Object.keys(stated[0]!.body.metadata).sort()).toEqual(["tenant_id", "workload_id"]);
    // The auth request (our assumption) happened once, its JWT reused for every call.
    expect(sent.filter((s) => s.path === DEFAULT_ASSUMPTIONS.auth.path)).toHaveLength(1);
  });

  it("takes every assumed path from the adapter's configuration", async () => {
    const calls: string[] = [];
    const fake = {
      async fetch(input: RequestInfo | URL, init?: RequestInit) {
        const req = new Request(input, init);
        const path = new URL(req.url).pathname + new URL(req.url).search;
        calls.push(`${req.method} ${path}`);
        if (path === "/oauth/token") return Response.json({ jwt: "t", ttl: 60 });
        if (path === "/v2/capacity") return Response.json({ items: [] });
        if (path === "/v2/leases") return Response.json({ items: [] });
        if (path.startsWith("/v2/leases/")) return Response.json({ allocation_id: "a 1", status: "released", billed_seconds: 1, cost_usd: 0.01 });
        return Response.json({ code: "busy", detail: "full" }, { status: 429, headers: { "retry-after": "3" } });
      },
      connect() {
        throw new Error("not used");
      },
    } as unknown as Fetcher;
    const assumptions = JSON.stringify({
      auth: { path: "/oauth/token", apiKeyField: "key", tokenField: "jwt", expiresInField: "ttl" },
      pools: { path: "/v2/capacity", listField: "items" },
      allocations: { listPath: "/v2/leases", listField: "items" },
      release: { method: "POST", path: "/v2/leases/{allocation_id}/end" },
      errors: { typeAt: "code", messageAt: "detail", capacityTypes: ["busy"] },
    });
    const client = new HostedAiClient({ baseUrl: `https://hostedai-${crypto.randomUUID()}.test`, apiKey: "k", fetcher: fake, assumptions });
    expect(await client.listPools()).toEqual([]);
    expect(await client.listAllocations()).toEqual([]);
    expect(await client.release("a 1")).toMatchObject({ cost_usd: 0.01 });
    const full = await client.allocate(allocationExample("acme", "w")).catch((e: unknown) => e);
    // The upstream's own error words, mapped onto the connector's canonical full-pool error.
    expect(full).toMatchObject({ status: 503, type: "capacity_exhausted", message: "full", retryAfterS: 3 });
    expect(calls).toEqual(["POST /oauth/token", "GET /v2/capacity", "GET /v2/leases", "POST /v2/leases/a%201/end", "POST /api/v1/allocations"]);
  });

  it("refuses a malformed override, naming the setting", () => {
    expect(() => assumptionsFrom("{")).toThrow(/not valid JSON/);
    expect(() => assumptionsFrom({ pools: { path: 7 } })).toThrow("HOSTEDAI_ASSUMPTIONS.pools.path must be a string");
    expect(() => assumptionsFrom({ pools: { path: "v2/capacity" } })).toThrow("HOSTEDAI_ASSUMPTIONS.pools.path must be a path starting with /");
    expect(() => assumptionsFrom({ pools: { colour: "x" } })).toThrow("HOSTEDAI_ASSUMPTIONS.pools.colour is not a known setting");
    expect(() => assumptionsFrom({ weather: {} })).toThrow("HOSTEDAI_ASSUMPTIONS.weather is not a known section");
    expect(assumptionsFrom(undefined)).toBe(DEFAULT_ASSUMPTIONS);
  });
});

describe("the integration document's examples, through the gateway", () => {
  it("a small model's strike is a preemptible allocation on standard-us-east, tagged tenant_id and workload_id", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const res = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "Say hello.", max_tokens: 8 });
    expect(res.status, await res.clone().text()).toBe(200);
    const s = StrikeResponse.parse(await res.json());
    expect(s.pool_id).toBe("standard-us-east");
    const live = await emulator("/admin/allocations");
    const ended = await emulator("/admin/allocations?status=released");
    const a = [...live.body.allocations, ...ended.body.allocations].find((x: { allocation_id: string }) => x.allocation_id === s.allocation_id);
    expect(a).toMatchObject({ pool_id: "standard-us-east", preemptible: true });
    expect(a.metadata).toEqual({ tenant_id: "dev", workload_id: id });
    await deleteCovenant(id);
  });
});
