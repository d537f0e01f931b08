import { describe, expect, it } from "vitest";
import { StrikeResponse } from "../src/schema";
import { emulatorAdmin, freshCovenant, liveAllocationsOf, strike } from "./support/gateway";

describe("POST /v1/strikes", () => {
  it.each([
    { model: "gemma-2b-it", latency_sensitive: false, pool: "preemptible-us-east" },
    { model: "mistral-7b", latency_sensitive: false, pool: "preemptible-us-east" },
    { model: "qwen-14b", latency_sensitive: false, pool: "standard-us-east" },
    { model: "qwen-32b", latency_sensitive: false, pool: "standard-us-east" },
    { model: "mistral-7b", latency_sensitive: true, pool: "dedicated-us-east" },
  ])("runs $model (latency_sensitive=$latency_sensitive) on $pool by the seed rule and releases it", async ({ model, latency_sensitive, pool }) => {
    const covenant = freshCovenant("sizes");
    const res = await strike({
      covenant_id: covenant,
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
    expect(body).toMatchObject({ object: "strike", covenant_id: covenant, model, pool_id: pool });
    expect(body.id).toMatch(/^str_[0-9a-f]{16}$/);
    expect(body.allocation_id).toMatch(/^alloc_/);
    expect(body.output.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(32);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.cost_usd).toBeGreaterThan(0);
    const t = body.timings;
    expect(t.total_ms).toBeGreaterThanOrEqual(t.allocate_ms + t.infer_ms);
    expect(await liveAllocationsOf(covenant)).toEqual([]);
  });

  it("accepts a plain prompt and applies defaults", async () => {
    const res = await strike({ covenant_id: freshCovenant("prompt"), prompt: "Say hello." });
    expect(res.status).toBe(200);
    const body = StrikeResponse.parse(await res.json());
    expect(body.model).toBe("mistral-7b");
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(256);
  });

  it("gives the same text for the same request (the emulator is seeded)", async () => {
    const req = { model: "gemma-2b-it", prompt: "Name three GPUs.", max_tokens: 24, temperature: 0 };
    const a = StrikeResponse.parse(await (await strike({ ...req, covenant_id: freshCovenant("det") })).json());
    const b = StrikeResponse.parse(await (await strike({ ...req, covenant_id: freshCovenant("det") })).json());
    expect(a.output.content).toBe(b.output.content);
    expect(a.allocation_id).not.toBe(b.allocation_id);
  });

  it("serves 100 concurrent strikes, all succeed, none leaks", async () => {
    const covenant = freshCovenant("burst");
    const before = await emulatorAdmin();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => strike({ covenant_id: covenant, model: "mistral-7b", prompt: `request ${i}`, max_tokens: 16 })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const bodies = await Promise.all(responses.map(async (r) => StrikeResponse.parse(await r.json())));
    expect(new Set(bodies.map((b) => b.id)).size).toBe(100);
    expect(new Set(bodies.map((b) => b.allocation_id)).size).toBe(100);
    const after = await emulatorAdmin();
    expect(after.created_total - before.created_total).toBeGreaterThanOrEqual(100);
    expect(await liveAllocationsOf(covenant)).toEqual([]);
  });

  it("fetches one Hosted.AI token for many strikes", async () => {
    // Warm the isolate's token cache first: the count must not move across the next strikes.
    await strike({ covenant_id: freshCovenant("jwt"), model: "gemma-2b-it", prompt: "warm", max_tokens: 4 });
    const before = (await emulatorAdmin()).tokens_issued;
    for (let i = 0; i < 10; i++) {
      const res = await strike({ covenant_id: freshCovenant("jwt"), model: "gemma-2b-it", prompt: `again ${i}`, max_tokens: 4 });
      expect(res.status).toBe(200);
    }
    expect((await emulatorAdmin()).tokens_issued).toBe(before);
  });
});
