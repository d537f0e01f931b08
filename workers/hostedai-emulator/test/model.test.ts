// The pure parts of the emulator: placement, pricing, the throughput model, text, the clock.
import { describe, expect, it } from "vitest";
import { extendBusy, retryAfterFromExpiry } from "../src/admission";
import { billedSeconds, costUsd, slicePricePerHour } from "../src/billing";
import { DEFAULT_POOLS, MODELS, poolCatalogue } from "../src/catalogue";
import { emulatedAt, realAt, rescaleClock, startClock } from "../src/clock";
import { placeSlice } from "../src/placement";
import { PREEMPTIBLE_EXTRA_MS, PROVISIONING_MS, provisioningDelayMs } from "../src/provisioning";
import { generateCompletion, openAnswer, promptTokens } from "../src/textgen";
import { planInference, tokenSchedule } from "../src/throughput";

const mistral = MODELS["mistral-7b"]!;

describe("throughput model", () => {
  it("puts the 7B model at about one second for 128 tokens on a full-compute slice", () => {
    const t = planInference({ model: mistral, sliceTflops: 10, promptTokens: 10, completionTokens: 128, concurrent: 1, latencyScale: 1 });
    expect(t.decodeTokensPerSecond).toBeCloseTo(1000 / 7, 9);
    expect(t.totalMs).toBeGreaterThan(900);
    expect(t.totalMs).toBeLessThan(1000);
  });

  it("slows down with less compute than the model wants, and with concurrency by sqrt(n)", () => {
    const shape = { model: mistral, sliceTflops: 10, promptTokens: 0, completionTokens: 100, concurrent: 1, latencyScale: 1 };
    const full = planInference(shape);
    expect(planInference({ ...shape, sliceTflops: 5 }).interTokenMs).toBeCloseTo(full.interTokenMs * 2, 9);
    expect(planInference({ ...shape, sliceTflops: 40 }).interTokenMs).toBeCloseTo(full.interTokenMs, 9);
    expect(planInference({ ...shape, concurrent: 4 }).interTokenMs).toBeCloseTo(full.interTokenMs * 2, 9);
  });

  it("scales every delay by latency_scale, down to zero", () => {
    const shape = { model: mistral, sliceTflops: 10, promptTokens: 50, completionTokens: 64, concurrent: 1, latencyScale: 1 };
    expect(planInference({ ...shape, latencyScale: 0.5 }).totalMs).toBeCloseTo(planInference(shape).totalMs / 2, 9);
    expect(planInference({ ...shape, latencyScale: 0 }).totalMs).toBe(0);
  });

  it("schedules one token per decode step, ending at the total latency", () => {
    const t = planInference({ model: mistral, sliceTflops: 10, promptTokens: 400, completionTokens: 5, concurrent: 1, latencyScale: 1 });
    const times = [...tokenSchedule(t)].map((s) => s.atMs);
    expect(times).toHaveLength(5);
    expect(times[0]).toBeCloseTo(t.timeToFirstTokenMs, 9);
    expect(times[4]).toBeCloseTo(t.totalMs, 9);
    expect(t.timeToFirstTokenMs).toBeGreaterThan(25 + 400 / (t.decodeTokensPerSecond * 40) * 1000 - 1e-9);
  });
});

describe("placement", () => {
  const gpu = (id: string, freeVram: number, freeTflops = 312) => ({ id, vram_mb: 81920, tflops: 312, free_vram_mb: freeVram, free_tflops: freeTflops });

  it("chooses the tightest GPU that fits", () => {
    const gpus = [gpu("a", 81920), gpu("b", 20000), gpu("c", 9000)];
    expect(placeSlice(gpus, { vram_mb: 8192, tflops: 10 })).toEqual({ kind: "placed", gpuId: "c" });
    expect(placeSlice(gpus, { vram_mb: 16384, tflops: 10 })).toEqual({ kind: "placed", gpuId: "b" });
  });

  it("tells full-now apart from never-fits", () => {
    expect(placeSlice([gpu("a", 1000)], { vram_mb: 8192, tflops: 10 })).toEqual({ kind: "full" });
    expect(placeSlice([gpu("a", 81920, 5)], { vram_mb: 8192, tflops: 10 })).toEqual({ kind: "full" });
    expect(placeSlice([gpu("a", 81920)], { vram_mb: 90000, tflops: 10 })).toEqual({ kind: "unsatisfiable" });
    expect(placeSlice([], { vram_mb: 1, tflops: 1 })).toEqual({ kind: "unsatisfiable" });
  });
});

describe("busy time and retry hints", () => {
  it("counts overlapping inferences once", () => {
    let busy = { busy_ms: 0, busy_until: 0 };
    const add = (start: number, end: number) => {
      const next = extendBusy(busy, start, end);
      busy = { busy_ms: next.busyMs, busy_until: next.busyUntil };
    };
    add(0, 100);
    add(50, 120);
    add(60, 90);
    add(200, 250);
    expect(busy).toEqual({ busy_ms: 170, busy_until: 250 });
  });

  it("bounds Retry-After between one second and a minute", () => {
    expect(retryAfterFromExpiry(undefined)).toBe(1);
    expect(retryAfterFromExpiry(0.2)).toBe(1);
    expect(retryAfterFromExpiry(29.1)).toBe(30);
    expect(retryAfterFromExpiry(3600)).toBe(60);
  });
});

describe("pricing and billing", () => {
  it("charges the larger of the VRAM and compute shares", () => {
    const a100 = { vram_mb: 81920, tflops: 312, price_per_gpu_hour: 2.4 };
    expect(slicePricePerHour(a100, { vram_mb: 40960, tflops: 10 })).toBeCloseTo(1.2, 9);
    expect(slicePricePerHour(a100, { vram_mb: 1024, tflops: 156 })).toBeCloseTo(1.2, 9);
  });

  it("bills whole seconds, at least one, at most the term", () => {
    expect(billedSeconds(0, 60)).toBe(1);
    expect(billedSeconds(1000, 60)).toBe(1);
    expect(billedSeconds(1001, 60)).toBe(2);
    expect(billedSeconds(3_600_000, 60)).toBe(60);
    expect(costUsd(3600, 2.4)).toBeCloseTo(2.4, 9);
  });
});

describe("completions", () => {
  const input = { seed: "42", model: "mistral-7b", prompt: "hello", maxTokens: 100, temperature: 0.7 };

  it("is a pure function of its inputs", () => {
    expect(generateCompletion(input)).toEqual(generateCompletion({ ...input }));
    expect(generateCompletion({ ...input, seed: "43" }).text).not.toBe(generateCompletion(input).text);
  });

  it("uses 60–100 % of max_tokens, one word per token", () => {
    for (let i = 0; i < 200; i++) {
      const c = generateCompletion({ ...input, prompt: `prompt ${i}` });
      expect(c.completionTokens).toBeGreaterThanOrEqual(60);
      expect(c.completionTokens).toBeLessThanOrEqual(100);
      expect(c.text.split(" ")).toHaveLength(c.completionTokens);
      expect(c.finishReason === "length").toBe(c.completionTokens === 100);
    }
  });

  it("streams as tokens that join to the text, each with the space after it", () => {
    const c = generateCompletion(input);
    expect(c.tokens).toHaveLength(c.completionTokens);
    expect(c.tokens.join("")).toBe(c.text);
    expect(c.tokens.slice(0, -1).every((t) => /^\S+ $/.test(t))).toBe(true);
  });

  it("carries on an answer the prompt leaves open, mid-sentence and without a gap or a double space", () => {
    const asked = "user: Tell me a story.";
    expect(openAnswer(asked)).toBeUndefined();
    expect(openAnswer(`${asked}\nassistant: `)).toEqual({ midSentence: false, needsSpace: false });
    expect(openAnswer(`${asked}\nassistant: Once upon a `)).toEqual({ midSentence: true, needsSpace: false });
    expect(openAnswer(`${asked}\nassistant: Once upon a time`)).toEqual({ midSentence: true, needsSpace: true });
    expect(openAnswer(`${asked}\nassistant: The end.`)).toEqual({ midSentence: false, needsSpace: true });
    // An answer over several lines is still the open turn; a later turn of another role closes it.
    expect(openAnswer(`${asked}\nassistant: First line\nsecond line`)).toEqual({ midSentence: true, needsSpace: true });
    expect(openAnswer(`${asked}\nassistant: Done.\nuser: More?`)).toBeUndefined();
    const after = (sofar: string) => generateCompletion({ ...input, prompt: `${asked}\nassistant: ${sofar}` });
    const spaced = after("Once upon a ");
    expect(spaced.tokens[0]).toMatch(/^[a-z]+ $/);
    const unspaced = after("Once upon a time");
    expect(unspaced.tokens[0]).toMatch(/^ [a-z]+ $/);
    expect(after("Once upon a ")).toEqual(spaced);
    expect(after("The end.").tokens[0]).toMatch(/^ [A-Z][a-z]* $/);
  });

  it("counts prompt tokens as UTF-8 bytes / 4, rounded up", () => {
    expect(promptTokens("")).toBe(0);
    expect(promptTokens("abcd")).toBe(1);
    expect(promptTokens("abcde")).toBe(2);
    expect(promptTokens("ééé")).toBe(2);
  });
});

describe("catalogue, clock and provisioning", () => {
  it("reads POOLS_JSON and rejects a malformed one", () => {
    expect(poolCatalogue(undefined)).toEqual(DEFAULT_POOLS);
    const custom = poolCatalogue(JSON.stringify([{ ...DEFAULT_POOLS[0], id: "tiny", gpu_count: 1 }]));
    expect(custom.map((p) => [p.id, p.gpu_count])).toEqual([["tiny", 1]]);
    expect(() => poolCatalogue("[")).toThrow(/POOLS_JSON/);
    expect(() => poolCatalogue(JSON.stringify([{ id: "x" }]))).toThrow(/POOLS_JSON/);
  });

  it("runs emulated time at time_scale and rescales without a jump", () => {
    const clock = startClock(1_000, 10);
    expect(emulatedAt(clock, 2_000)).toBe(11_000);
    expect(realAt(clock, 11_000)).toBe(2_000);
    const faster = rescaleClock(clock, 2_000, 100);
    expect(emulatedAt(faster, 2_000)).toBe(11_000);
    expect(emulatedAt(faster, 2_010)).toBe(12_000);
  });

  it("provisions each pool type near its base delay, a preemptible slice a little later, deterministically", () => {
    for (const tier of ["dedicated", "premium", "standard"] as const) {
      const delay = provisioningDelayMs(tier, "42", 7, 1);
      expect(delay).toBe(provisioningDelayMs(tier, "42", 7, 1));
      expect(delay).toBeGreaterThanOrEqual(PROVISIONING_MS[tier] * 0.85);
      expect(delay).toBeLessThanOrEqual(PROVISIONING_MS[tier] * 1.15);
      const spot = provisioningDelayMs(tier, "42", 7, 1, true);
      expect(spot).toBeGreaterThanOrEqual((PROVISIONING_MS[tier] + PREEMPTIBLE_EXTRA_MS) * 0.85);
      expect(spot).toBeLessThanOrEqual((PROVISIONING_MS[tier] + PREEMPTIBLE_EXTRA_MS) * 1.15);
    }
    expect(provisioningDelayMs("standard", "42", 7, 0)).toBe(0);
  });
});
