// The single device: one generation at a time, model switches, counters and the admin endpoints.
import { beforeEach, describe, expect, it } from "vitest";
import { call, hello, postJson, resetDevice, slotOf, stats } from "./helpers";

beforeEach(() => resetDevice());

describe("one device, one generation at a time", () => {
  it("queues concurrent requests back to back in the order the device took them", async () => {
    // Real-time scale, so each slot lasts long enough for the three requests to overlap.
    await resetDevice(1);
    const request = { model: "gemma-2b-it", messages: hello, max_tokens: 32 };
    const responses = await Promise.all([1, 2, 3].map(() => postJson("/v1/chat/completions", request)));
    for (const response of responses) expect(response.status).toBe(200);
    const slots = responses.map(slotOf).sort((a, b) => a.sequence - b.sequence);
    expect(slots.map((s) => s.sequence)).toEqual([1, 2, 3]);
    expect(slots[0]!.start).toBe(slots[0]!.requestedAt);
    for (let i = 1; i < slots.length; i++) {
      // A request starts when it arrives or when the previous one ends, whichever is later.
      expect(slots[i]!.start).toBe(Math.max(slots[i]!.requestedAt, slots[i - 1]!.end));
    }
    // They did overlap, so the later ones waited: together they took the sum of their latencies.
    expect(slots.slice(1).every((s) => s.queuedMs > 0)).toBe(true);
    const total = slots.reduce((sum, s) => sum + (s.end - s.start), 0);
    expect(slots.at(-1)!.end - slots[0]!.start).toBeCloseTo(total, 6);
    expect((await stats()).busy_until).toBe(slots.at(-1)!.end);
  });

  it("counts the completions it serves at once: each until answered in full, a stream whose client hung up until its slot ends", async () => {
    await resetDevice(1);
    const request = { model: "gemma-2b-it", messages: hello, max_tokens: 32 };
    const inFlight = async (n: number) => {
      for (let i = 0; i < 200 && (await stats()).in_flight !== n; i++) await new Promise((r) => setTimeout(r, 10));
      return (await stats()).in_flight;
    };
    // The stream is booked first, so its headers come at once; three plain ones queue behind it.
    const streamed = await postJson("/v1/chat/completions", { ...request, stream: true });
    const plain = Promise.all([1, 2, 3].map(() => postJson("/v1/chat/completions", request)));
    expect(await inFlight(4)).toBe(4);
    await streamed.text();
    await plain;
    expect(await inFlight(0)).toBe(0);
    const cancelled = await postJson("/v1/chat/completions", { ...request, stream: true });
    expect((await stats()).in_flight).toBe(1);
    // The client reads the first event and hangs up.
    const reader = cancelled.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(await inFlight(0)).toBe(0);
    expect((await stats()).max_in_flight).toBe(4);
    await resetDevice();
    expect((await stats()).max_in_flight).toBe(0);
  });

  it("queues streams behind non-streaming work too", async () => {
    const [plain, streamed] = await Promise.all([
      postJson("/v1/chat/completions", { messages: hello, max_tokens: 32 }),
      postJson("/v1/chat/completions", { messages: hello, max_tokens: 32, stream: true }),
    ]);
    await streamed.text();
    const [a, b] = [slotOf(plain), slotOf(streamed)].sort((x, y) => x.sequence - y.sequence);
    expect(b!.start).toBe(Math.max(b!.requestedAt, a!.end));
  });

  it("loads another model once, and keeps it loaded", async () => {
    expect((await stats()).loaded_model).toBe("gemma-2b-it");
    const first = await postJson("/v1/chat/completions", { model: "mistral-7b", messages: hello, max_tokens: 4 });
    expect(slotOf(first).loadMs).toBeGreaterThan(0);
    expect((await stats()).loaded_model).toBe("mistral-7b");
    const second = await postJson("/v1/chat/completions", { model: "mistral-7b", messages: hello, max_tokens: 4 });
    expect(slotOf(second).loadMs).toBe(0);
    const back = await postJson("/v1/chat/completions", { model: "gemma-2b-it", messages: hello, max_tokens: 4 });
    expect(slotOf(back).loadMs).toBeGreaterThan(0);
  });
});

describe("admin", () => {
  it("counts requests served and tokens generated", async () => {
    const a = await (await postJson("/v1/chat/completions", { messages: hello, max_tokens: 10 })).json<{
      usage: { prompt_tokens: number; completion_tokens: number };
    }>();
    const b = await (await postJson("/v1/completions", { prompt: "hi", max_tokens: 7 })).json<{
      usage: { prompt_tokens: number; completion_tokens: number };
    }>();
    const s = await stats();
    expect(s.requests_total).toBe(2);
    expect(s.completion_tokens_total).toBe(a.usage.completion_tokens + b.usage.completion_tokens);
    expect(s.prompt_tokens_total).toBe(a.usage.prompt_tokens + b.usage.prompt_tokens);
    expect(s.loaded_model).toBe("gemma-2b-it");
    expect(s.busy_until).toBeGreaterThan(0);
  });

  it("changes the latency scale at runtime", async () => {
    expect((await stats()).latency_scale).toBe(0.01);
    const configured = await postJson("/admin/config", { latency_scale: 0 });
    expect((await configured.json<{ latency_scale: number }>()).latency_scale).toBe(0);
    const response = await postJson("/v1/chat/completions", { model: "mistral-7b", messages: hello, max_tokens: 100 });
    const slot = slotOf(response);
    expect(slot.end - slot.start).toBe(0);
    expect(slot.loadMs).toBe(0);
  });

  it("rejects a bad latency scale with 400 naming the field", async () => {
    for (const body of [{ latency_scale: -1 }, { latency_scale: "fast" }, {}]) {
      const response = await postJson("/admin/config", body);
      expect(response.status).toBe(400);
      expect((await response.json<{ error: { param: string } }>()).error.param).toBe("latency_scale");
    }
  });

  it("resets to a fresh node", async () => {
    await postJson("/admin/config", { latency_scale: 0 });
    await postJson("/v1/chat/completions", { model: "mistral-7b", messages: hello, max_tokens: 3 });
    const reset = await (await call("/admin/reset", { method: "POST" })).json();
    expect(reset).toEqual({
      requests_total: 0,
      prompt_tokens_total: 0,
      completion_tokens_total: 0,
      loaded_model: "gemma-2b-it",
      busy_until: 0,
      latency_scale: 0.01,
      faults_injected_total: { errors: 0, latency: 0, timeouts: 0, down: 0, stream_cut: 0, malformed_output: 0 },
      in_flight: 0,
      max_in_flight: 0,
    });
  });
});
