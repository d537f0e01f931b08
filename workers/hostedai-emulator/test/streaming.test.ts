// Streamed inference: token events paced by the schedule, one done event, the same accounting as
// a JSON answer; and the two ways a stream can end badly — preemption and an injected cut.
import { beforeEach, describe, expect, it } from "vitest";
import { adminView, allocateOk, call, infer, issueToken, pause, resetCluster, setConfig, setFaults, streamInference } from "./harness";

let token: string;

beforeEach(async () => {
  await resetCluster();
  token = await issueToken();
});

const request = { prompt: "Describe a river at dawn.", max_tokens: 24, temperature: 0.3 };

describe("stream: true", () => {
  it("sends one token event per token, then a done event with what a JSON answer reports", async () => {
    const slice = await allocateOk(token);
    const whole = (await infer(token, slice.allocation_id, request)).body;
    const streamed = await streamInference(token, slice.allocation_id, request);
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const tokens = streamed.events.filter((e) => e.event === "token");
    expect(tokens.map((e) => e.data.index)).toEqual([...Array(whole.usage.completion_tokens).keys()]);
    expect(tokens.map((e) => e.data.text).join("")).toBe(whole.text);
    expect(tokens[0]!.data.text).toMatch(/^\S+ $/);
    expect(streamed.events.map((e) => e.event)).toEqual([...tokens.map(() => "token"), "done"]);
    const done = streamed.events.at(-1)!.data;
    const { text: _text, ...withoutText } = whole;
    expect(done).toEqual(withoutText);
    expect(streamed.raw).toMatch(/^event: token\ndata: \{"text":"[^"]+","index":0,"usage":\{/);
  });

  it("sends the first token long before the last", async () => {
    await setConfig({ latency_scale: 0.5 });
    const slice = await allocateOk(token);
    const streamed = await streamInference(token, slice.allocation_id, { ...request, max_tokens: 64 });
    const tokens = streamed.events.filter((e) => e.event === "token");
    const done = streamed.events.at(-1)!;
    // At half speed mistral-7b decodes ~71 tokens/s: a 39+ token answer spreads over 0.5 s or more.
    expect(done.event).toBe("done");
    expect(tokens.at(-1)!.at - tokens[0]!.at).toBeGreaterThan(done.data.latency_ms * 0.5);
  });

  it("is accounted exactly like a JSON answer: counted once, with its latency and cost", async () => {
    const slice = await allocateOk(token, { min_vram_mb: 16384, min_tflops: 20 });
    const streamed = await streamInference(token, slice.allocation_id, request);
    const done = streamed.events.at(-1)!.data;
    expect(done.cost_usd).toBeCloseTo(((done.latency_ms / 1000) * slice.price_per_hour) / 3600, 9);
    const metrics = (await call("GET", `/api/v1/allocations/${slice.allocation_id}/metrics`, { token })).body;
    expect(metrics).toMatchObject({ inference_count: 1, memory_used_mb: 6144, average_latency_ms: done.latency_ms });
    expect((await adminView()).body.inference_total).toBe(1);
  });

  it("answers refusals before the stream starts as JSON errors", async () => {
    const missing = await streamInference(token, "alloc_000000000000000000000000", request);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.raw).error.type).toBe("allocation_not_found");
    const slice = await allocateOk(token, { pool_id: "premium-us-east" });
    await setFaults({ pools_down: ["premium-us-east"] });
    const down = await streamInference(token, slice.allocation_id, request);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.raw).error.type).toBe("pool_unavailable");
  });
});

describe("a stream that ends badly", () => {
  it("ends with an error event when the allocation is preempted mid-stream, and is not counted", async () => {
    await setConfig({ latency_scale: 1 });
    const slice = await allocateOk(token, { pool_id: "standard-us-east", min_vram_mb: 6144, min_tflops: 10, preemptible: true });
    const streamed = await streamInference(token, slice.allocation_id, { ...request, max_tokens: 128 }, async (event) => {
      if (event.event === "token" && event.data.index === 2) {
        await call("POST", "/admin/faults/preempt", { body: { pool_id: "standard-us-east" } });
      }
    });
    const last = streamed.events.at(-1)!;
    expect(last.event).toBe("error");
    expect(last.data.error).toMatchObject({ type: "allocation_preempted", allocation_id: slice.allocation_id });
    expect(streamed.events.some((e) => e.event === "done")).toBe(false);
    // At least 77 tokens were planned; the stream stopped within a poll of the preemption.
    expect(streamed.events.filter((e) => e.event === "token").length).toBeLessThan(40);
    const metrics = (await call("GET", `/api/v1/allocations/${slice.allocation_id}/metrics`, { token })).body;
    expect(metrics.inference_count).toBe(0);
  });

  it("is cut after n tokens with neither done nor error when stream_cut_after_tokens is set", async () => {
    const slice = await allocateOk(token);
    await setFaults({ stream_cut_after_tokens: 3 });
    const cut = await streamInference(token, slice.allocation_id, request);
    expect(cut.status).toBe(200);
    expect(cut.events.map((e) => e.event)).toEqual(["token", "token", "token"]);
    expect(cut.raw).not.toContain("event: done");
    // Only streams are cut.
    expect((await infer(token, slice.allocation_id, request)).status).toBe(200);
    await setFaults({ stream_cut_after_tokens: 0 });
    expect((await streamInference(token, slice.allocation_id, request)).raw).toBe("");
    const view = (await adminView()).body;
    expect(view.faults_injected_total.stream_cut).toBe(2);
    expect(view.inference_total).toBe(3);
  });

  it("cuts nothing when the answer is no longer than n tokens, but still sends no done", async () => {
    const slice = await allocateOk(token);
    await setFaults({ stream_cut_after_tokens: 100 });
    const cut = await streamInference(token, slice.allocation_id, request);
    const tokens = cut.events.filter((e) => e.event === "token").length;
    expect(tokens).toBeGreaterThan(0);
    expect(cut.events).toHaveLength(tokens);
  });

  it("leaves the in-flight set as soon as the reader hangs up", async () => {
    await setConfig({ latency_scale: 1 });
    const slice = await allocateOk(token);
    const hangUp = streamInference(token, slice.allocation_id, { ...request, max_tokens: 128 }, (event) => {
      if (event.data?.index === 1) throw new Error("reader gone");
    }).catch((error: Error) => error.message);
    expect(await hangUp).toBe("reader gone");
    await pause(30);
    // The answer was planned at over half a second; it was closed at the hang-up, not at its end.
    expect((await adminView()).body.inference_total).toBe(1);
  });
});
