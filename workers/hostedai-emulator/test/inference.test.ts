import { beforeEach, describe, expect, it } from "vitest";
import { allocateOk, call, infer, issueToken, pause, resetCluster, setConfig } from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

const MODELS_BY_SIZE = ["gemma-2b-it", "mistral-7b", "qwen-14b", "qwen-32b", "qwen-70b"];

describe("inference", () => {
  it("returns the contract's shape with usage and cost", async () => {
    const slice = await allocateOk(token);
    const prompt = "Explain why the sky is blue.";
    const reply = await infer(token, slice.allocation_id, { prompt, max_tokens: 64 });
    expect(reply.status).toBe(200);
    const r = reply.body;
    expect(r.allocation_id).toBe(slice.allocation_id);
    expect(r.model).toBe("mistral-7b");
    expect(r.usage.prompt_tokens).toBe(Math.ceil(new TextEncoder().encode(prompt).byteLength / 4));
    expect(r.usage.completion_tokens).toBeGreaterThanOrEqual(Math.floor(64 * 0.6));
    expect(r.usage.completion_tokens).toBeLessThanOrEqual(64);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens + r.usage.completion_tokens);
    expect(r.text.split(" ")).toHaveLength(r.usage.completion_tokens);
    expect(r.finish_reason).toBe(r.usage.completion_tokens === 64 ? "length" : "stop");
    expect(r.latency_ms).toBeGreaterThan(0);
    expect(r.cost_usd).toBeCloseTo(((r.latency_ms / 1000) * slice.price_per_hour) / 3600, 9);
  });

  it("is deterministic: the same input gives the same text, another input other text", async () => {
    const slice = await allocateOk(token);
    const first = await infer(token, slice.allocation_id, { prompt: "Name three rivers.", temperature: 0.2 });
    const again = await infer(token, slice.allocation_id, { prompt: "Name three rivers.", temperature: 0.2 });
    const warmer = await infer(token, slice.allocation_id, { prompt: "Name three rivers.", temperature: 0.9 });
    expect(again.body.text).toBe(first.body.text);
    expect(again.body.usage).toEqual(first.body.usage);
    expect(warmer.body.text).not.toBe(first.body.text);
  });

  it("reports finish_reason length exactly when all max_tokens were used", async () => {
    const slice = await allocateOk(token);
    const reasons = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = (await infer(token, slice.allocation_id, { prompt: `question ${i}`, max_tokens: 20 })).body;
      expect(r.finish_reason).toBe(r.usage.completion_tokens === 20 ? "length" : "stop");
      reasons.add(r.finish_reason);
    }
    expect(reasons).toEqual(new Set(["stop", "length"]));
  });

  it("takes longer for larger models on the same slice", async () => {
    const slice = await allocateOk(token, { min_vram_mb: 81920, min_tflops: 100 });
    const latencies: number[] = [];
    for (const model of MODELS_BY_SIZE) {
      const reply = await infer(token, slice.allocation_id, { model, max_tokens: 64 });
      expect(reply.status).toBe(200);
      latencies.push(reply.body.latency_ms);
    }
    for (let i = 1; i < latencies.length; i++) expect(latencies[i]).toBeGreaterThan(latencies[i - 1] ?? Infinity);
  });

  it("runs the 7B model at about a second for 128 tokens on its default slice", async () => {
    // The test pool runs at LATENCY_SCALE 0.01: every modelled delay is a hundredth.
    const slice = await allocateOk(token, { min_vram_mb: 6144, min_tflops: 10 });
    for (let i = 0; ; i++) {
      const reply = await infer(token, slice.allocation_id, { prompt: `p${i}`, max_tokens: 128 });
      if (reply.body.usage.completion_tokens !== 128) continue;
      expect(reply.body.latency_ms * 100).toBeGreaterThan(850);
      expect(reply.body.latency_ms * 100).toBeLessThan(1100);
      break;
    }
  });

  it("slows an inference down when another runs on the same slice", async () => {
    await setConfig({ latency_scale: 0.5 });
    const slice = await allocateOk(token);
    const solo = await infer(token, slice.allocation_id, { prompt: "shared", max_tokens: 128 });
    const first = infer(token, slice.allocation_id, { prompt: "first", max_tokens: 128 });
    await pause(50);
    const second = await infer(token, slice.allocation_id, { prompt: "shared", max_tokens: 128 });
    await first;
    expect(second.body.usage).toEqual(solo.body.usage);
    expect(second.body.latency_ms).toBeGreaterThan(solo.body.latency_ms * 1.3);
  });

  it("refuses unknown models and models too large for the slice with 422", async () => {
    const slice = await allocateOk(token, { min_vram_mb: 6144 });
    const unknown = await infer(token, slice.allocation_id, { model: "gpt-9" });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ type: "unknown_model", param: "model" });
    const tooBig = await infer(token, slice.allocation_id, { model: "qwen-14b" });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body.error.type).toBe("insufficient_vram");
  });

  it("answers 404 for an unknown allocation", async () => {
    const reply = await infer(token, "alloc_000000000000000000000000");
    expect(reply.status).toBe(404);
    expect(reply.body.error.type).toBe("allocation_not_found");
  });

  it("answers 410 allocation_expired once the allocation's emulated time is up", async () => {
    await setConfig({ time_scale: 1000 });
    const slice = await allocateOk(token, { duration_seconds: 5 });
    await pause(20);
    const reply = await infer(token, slice.allocation_id);
    expect(reply.status).toBe(410);
    expect(reply.body.error.type).toBe("allocation_expired");
    const fetched = await call("GET", `/api/v1/allocations/${slice.allocation_id}`, { token });
    expect(fetched.body.status).toBe("expired");
  });

  it("answers 409 allocation_not_active after release", async () => {
    const slice = await allocateOk(token);
    await call("DELETE", `/api/v1/allocations/${slice.allocation_id}`, { token });
    const reply = await infer(token, slice.allocation_id);
    expect(reply.status).toBe(409);
    expect(reply.body.error.type).toBe("allocation_not_active");
  });
});

describe("metrics", () => {
  it("starts at zero and follows the inferences run", async () => {
    const slice = await allocateOk(token, { min_vram_mb: 16384, min_tflops: 20 });
    const path = `/api/v1/allocations/${slice.allocation_id}/metrics`;
    // Exactly the document's fields.
    expect((await call("GET", path, { token })).body).toEqual({
      gpu_utilization: 0,
      memory_used_mb: 0,
      inference_count: 0,
      average_latency_ms: 0,
    });
    const small = await infer(token, slice.allocation_id, { model: "gemma-2b-it" });
    const large = await infer(token, slice.allocation_id, { model: "qwen-14b" });
    const again = await infer(token, slice.allocation_id, { model: "mistral-7b" });
    const m = (await call("GET", path, { token })).body;
    expect(m.inference_count).toBe(3);
    expect(m.memory_used_mb).toBe(14336);
    const mean = (small.body.latency_ms + large.body.latency_ms + again.body.latency_ms) / 3;
    expect(m.average_latency_ms).toBeCloseTo(mean, 2);
    expect(m.gpu_utilization).toBeGreaterThan(0);
    expect(m.gpu_utilization).toBeLessThanOrEqual(1);
  });

  it("is 404 for another caller's allocation", async () => {
    const reply = await call("GET", "/api/v1/allocations/alloc_nope/metrics", { token });
    expect(reply.status).toBe(404);
  });
});
