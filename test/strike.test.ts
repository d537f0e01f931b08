import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { COVENANT_DEFAULTS, StrikeResponse } from "../src/schema";
import { createCovenant, deleteCovenant } from "./support/covenants";
import { emulatorAdmin, freshCovenant, liveAllocationsOf, strike } from "./support/gateway";
import { billedAllocationsOf, billedInferencesOf } from "./support/money";

describe("POST /v1/strikes under the seed rule", () => {
  it.each([
    // VRAM < 8000 MB: a preemptible allocation on a standard pool (preemptibility is the allocation's).
    { model: "gemma-2b-it", latency_sensitive: false, pool: "standard-us-east", preemptible: true },
    { model: "mistral-7b", latency_sensitive: false, pool: "standard-us-east", preemptible: true },
    { model: "qwen-14b", latency_sensitive: false, pool: "standard-us-east", preemptible: false },
    { model: "qwen-32b", latency_sensitive: false, pool: "standard-us-east", preemptible: false },
    { model: "mistral-7b", latency_sensitive: true, pool: "dedicated-us-east", preemptible: false },
  ])("runs $model (latency_sensitive=$latency_sensitive) on $pool (preemptible=$preemptible) and releases it", async ({ model, latency_sensitive, pool, preemptible }) => {
    const { id } = await createCovenant({ policy: "seed" });
    const res = await strike({
      covenant_id: id,
      model,
      latency_sensitive,
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Explain vGPU slicing in one sentence." },
      ],
      max_tokens: 32,
    });
    expect(res.status).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body).toMatchObject({ object: "strike", covenant_id: id, model, pool_id: pool, lease_reused: false });
    expect(body.id).toMatch(/^str_[0-9a-f]{16}$/);
    expect(body.allocation_id).toMatch(/^alloc_/);
    expect(body.output.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(32);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.cost_usd).toBeGreaterThan(0);
    const t = body.timings;
    expect(t.total_ms).toBeGreaterThanOrEqual(t.allocate_ms + t.infer_ms);
    // The seed rule allocates for each strike and releases straight after.
    expect(await liveAllocationsOf(id)).toEqual([]);
    const released = await env.HOSTEDAI.fetch("http://hostedai.test/admin/allocations?status=released").then((r) => r.json<{ allocations: { allocation_id: string; preemptible: boolean }[] }>());
    expect(released.allocations.find((a) => a.allocation_id === body.allocation_id)).toMatchObject({ preemptible });
  });

  it("serves 100 concurrent strikes: all succeed, one allocation each, none leaks", async () => {
    const { id } = await createCovenant({ policy: "seed" });
    const before = await emulatorAdmin();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => strike({ covenant_id: id, model: "mistral-7b", prompt: `request ${i}`, max_tokens: 16 })),
    );
    expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const bodies = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json())));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(100);
    expect(new Set(bodies.map((b) => b.allocation_id)).size).toBe(100);
    expect((await emulatorAdmin()).created_total - before.created_total).toBeGreaterThanOrEqual(100);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });
});

describe("POST /v1/strikes under the homeskillet policy", () => {
  it("places on the cheapest pool that fits and reuses the lease", async () => {
    const { id } = await createCovenant({ lease: { idle_timeout_s: 60 } });
    const first = StrikeResponse.parse(await (await strike({ covenant_id: id, model: "qwen-14b", prompt: "one", max_tokens: 8 })).json());
    // qwen-14b runs on its matrix pool type, premium (qos.pool_type "recommended").
    expect(first).toMatchObject({ pool_id: "premium-us-east", lease_reused: false });
    for (let i = 0; i < 5; i++) {
      const next = StrikeResponse.parse(await (await strike({ covenant_id: id, model: "qwen-14b", prompt: `again ${i}`, max_tokens: 8 })).json());
      expect(next).toMatchObject({ allocation_id: first.allocation_id, lease_reused: true });
    }
    // Hosted.AI's own record: one allocation made for the covenant, and all six ran on it.
    expect((await liveAllocationsOf(id)).map((a) => a.allocation_id)).toEqual([first.allocation_id]);
    expect(await billedAllocationsOf(id)).toEqual([]);
    expect((await billedInferencesOf(id)).map((i) => i.allocation_id)).toEqual(Array(6).fill(first.allocation_id));
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("serves 100 concurrent strikes on far fewer allocations, and leaks none", async () => {
    const { id } = await createCovenant({});
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => strike({ covenant_id: id, model: "mistral-7b", prompt: `request ${i}`, max_tokens: 16 })),
    );
    expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const bodies = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json())));
    const allocations = new Set(bodies.map((b) => b.allocation_id));
    expect(allocations.size).toBeLessThanOrEqual(COVENANT_DEFAULTS.lease.max_leases);
    expect(bodies.filter((b) => b.lease_reused).length).toBeGreaterThanOrEqual(100 - allocations.size);
    await deleteCovenant(id);
    expect(await liveAllocationsOf(id)).toEqual([]);
  });

  it("gives the same text for the same request (the emulator is seeded)", async () => {
    const req = { model: "gemma-2b-it", prompt: "Name three GPUs.", max_tokens: 24, temperature: 0 };
    const a = StrikeResponse.parse(await (await strike({ ...req, covenant_id: (await createCovenant({})).id })).json());
    const b = StrikeResponse.parse(await (await strike({ ...req, covenant_id: (await createCovenant({})).id })).json());
    expect(a.output.content).toBe(b.output.content);
    expect(a.allocation_id).not.toBe(b.allocation_id);
  });

  it("accepts a plain prompt and applies the covenant's defaults", async () => {
    // A short writing request: the default covenant's routes send it where its default model is.
    const res = await strike({ covenant_id: "default", prompt: "Write a short hello to a friend." });
    expect(res.status).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body.classification.label).toBe("writing");
    expect(body.model).toBe("mistral-7b");
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(256);
  });

  it("fetches one Hosted.AI token for many strikes", async () => {
    // Warm the isolate's token cache first: the count must not move across the next strikes.
    const { id } = await createCovenant({});
    await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "warm", max_tokens: 4 });
    const before = (await emulatorAdmin()).tokens_issued;
    for (let i = 0; i < 10; i++) {
      const res = await strike({ covenant_id: id, model: i % 2 ? "gemma-2b-it" : "qwen-14b", prompt: `again ${i}`, max_tokens: 4 });
      expect(res.status).toBe(200);
    }
    expect((await emulatorAdmin()).tokens_issued).toBe(before);
  });

  it("routes a strike that names no model by its classification, and says why", async () => {
    const { id } = await createCovenant({});
    const res = await strike({ covenant_id: id, prompt: "Write a Python function that reverses a singly linked list in place and explain its complexity.", max_tokens: 8 });
    expect(res.status).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body.classification.label).toBe("coding");
    expect(["qwen-14b", "qwen-32b", "qwen-70b"]).toContain(body.model);
    expect(body.model_reason).toMatch(/^route \d+ \(coding/);
    // An explicit model still wins.
    const named = StrikeResponse.parse(await (await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "Write a Python function.", max_tokens: 8 })).json());
    expect(named).toMatchObject({ model: "gemma-2b-it", model_reason: "model named in the request" });
    await deleteCovenant(id);
  });

  it("answers 404 for a covenant the tenant never created", async () => {
    const res = await strike({ covenant_id: freshCovenant("missing"), prompt: "hi" });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: "covenant_not_found", param: "covenant_id" } });
  });
});
