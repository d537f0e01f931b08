// The pure core: latency model, device schedule and deterministic text.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTokensPerSecond, generationTimings, paramsBillions } from "../src/latency";
import { initialDeviceState, planSlot, tokenDueAt } from "../src/schedule";
import { cutAtStop, estimateTokens, fnv1a32, generateText, mulberry32, type GenerationInput } from "../src/text";

describe("latency model", () => {
  it("reads the parameter count from the model id", () => {
    expect(paramsBillions("gemma-2b-it")).toBe(2);
    expect(paramsBillions("mistral-7b")).toBe(7);
    expect(paramsBillions("qwen-14b")).toBe(14);
    expect(paramsBillions("mlx-community/Llama-3.2-3B-Instruct-4bit")).toBe(3);
    expect(paramsBillions("unnamed-model")).toBe(7);
  });

  it("decodes at 600 / billions of parameters tokens per second", () => {
    expect(decodeTokensPerSecond("gemma-2b-it")).toBe(300);
    expect(decodeTokensPerSecond("mistral-7b")).toBeCloseTo(85.714, 2);
  });

  it("adds load, time to first token, prefill at 30x decode, then decode", () => {
    const t = generationTimings({ model: "gemma-2b-it", promptTokens: 900, completionTokens: 11, needsLoad: true, scale: 1 });
    expect(t.loadMs).toBe(1500);
    expect(t.firstTokenMs).toBeCloseTo(40 + 100, 6); // 900 tokens at 9000 tokens/s
    expect(t.tokenIntervalMs).toBeCloseTo(1000 / 300, 6);
    expect(t.totalMs).toBeCloseTo(1500 + 140 + 10 * (1000 / 300), 6);
  });

  it("scales every delay, and scale 0 removes them all", () => {
    const base = { model: "mistral-7b", promptTokens: 50, completionTokens: 20, needsLoad: true };
    const real = generationTimings({ ...base, scale: 1 });
    const fast = generationTimings({ ...base, scale: 0.1 });
    expect(fast.totalMs).toBeCloseTo(real.totalMs * 0.1, 6);
    expect(generationTimings({ ...base, scale: 0 })).toEqual({ loadMs: 0, firstTokenMs: 0, tokenIntervalMs: 0, totalMs: 0 });
  });
});

describe("device schedule", () => {
  const fresh = initialDeviceState("gemma-2b-it", 1);

  it("starts an idle device's slot now and books it until the last token", () => {
    const { slot, next } = planSlot(fresh, { model: "gemma-2b-it", promptTokens: 10, completionTokens: 5 }, 1_000);
    expect(slot.start).toBe(1_000);
    expect(slot.queuedMs).toBe(0);
    expect(slot.loadMs).toBe(0);
    expect(next.busyUntil).toBe(slot.end);
    expect(tokenDueAt(slot, 4)).toBeCloseTo(slot.end, 6);
    expect(next).toMatchObject({ requestsTotal: 1, promptTokensTotal: 10, completionTokensTotal: 5 });
  });

  it("queues a request behind the one already running", () => {
    const first = planSlot(fresh, { model: "gemma-2b-it", promptTokens: 10, completionTokens: 100 }, 1_000);
    const second = planSlot(first.next, { model: "gemma-2b-it", promptTokens: 10, completionTokens: 100 }, 1_001);
    expect(second.slot.start).toBe(first.slot.end);
    expect(second.slot.queuedMs).toBeCloseTo(first.slot.end - 1_001, 6);
    expect(second.slot.sequence).toBe(2);
  });

  it("pays the load delay once when switching models", () => {
    const switched = planSlot(fresh, { model: "mistral-7b", promptTokens: 1, completionTokens: 1 }, 0);
    expect(switched.slot.loadMs).toBe(1500);
    expect(switched.next.loadedModel).toBe("mistral-7b");
    const again = planSlot(switched.next, { model: "mistral-7b", promptTokens: 1, completionTokens: 1 }, 0);
    expect(again.slot.loadMs).toBe(0);
  });
});

describe("deterministic text", () => {
  const input: GenerationInput = { seed: "7", model: "gemma-2b-it", prompt: "[]", maxTokens: 64, temperature: 0 };

  it("hashes with 32-bit FNV-1a over UTF-8", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("draws from [0, 1) reproducibly", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it("estimates a token per four UTF-8 bytes, rounding up", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("abcd")).toBe(1);
    expect(estimateTokens("abcde")).toBe(2);
    expect(estimateTokens("héé")).toBe(2); // 5 bytes
  });

  it("gives the same words for the same inputs and different words when any input changes", () => {
    const once = generateText(input);
    expect(generateText(input)).toEqual(once);
    for (const change of [{ seed: "8" }, { model: "mistral-7b" }, { prompt: "[1]" }, { temperature: 0.5 }]) {
      expect(generateText({ ...input, ...change }).tokens).not.toEqual(once.tokens);
    }
  });

  it("produces 60-100% of max_tokens, and 'length' exactly when it uses them all", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.string(), fc.double({ min: 0, max: 2, noNaN: true }), (maxTokens, prompt, temperature) => {
        const out = generateText({ ...input, prompt, maxTokens, temperature });
        expect(out.tokens.length).toBeGreaterThanOrEqual(Math.ceil(maxTokens * 0.6));
        expect(out.tokens.length).toBeLessThanOrEqual(maxTokens);
        expect(out.finishReason).toBe(out.tokens.length === maxTokens ? "length" : "stop");
      }),
      { numRuns: 200 },
    );
  });

  it("writes one word per token, with the leading space a BPE token carries", () => {
    const { tokens, finishReason } = generateText({ ...input, maxTokens: 200 });
    expect(tokens[0]).toMatch(/^[A-Z][a-z]*[,.]?$/);
    for (const token of tokens.slice(1)) expect(token).toMatch(/^ [A-Za-z]+[,.]?$/);
    if (finishReason === "stop") expect(tokens.at(-1)).toMatch(/\.$/);
  });

  it("cuts at the first stop sequence, even one spanning tokens", () => {
    const generated = { tokens: ["One", " two", " three", " four"], finishReason: "length" as const };
    expect(cutAtStop(generated, ["thr"])).toEqual({ tokens: ["One", " two", " "], finishReason: "stop" });
    expect(cutAtStop(generated, ["o th", "four"])).toEqual({ tokens: ["One", " tw"], finishReason: "stop" });
    expect(cutAtStop(generated, ["five", ""])).toBe(generated);
    expect(cutAtStop(generated, ["One"])).toEqual({ tokens: [], finishReason: "stop" });
  });
});
