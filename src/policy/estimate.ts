import type { ModelSpec } from "./models";

/**
 * What Homeskillet assumes of a model's speed before it has measured anything: deliberately
 * pessimistic decode rates, so reservations and expiry margins err on the safe side.
 */
const PESSIMISTIC_DECODE_TPS_AT_1B = 400;
const PREFILL_SPEEDUP = 20;
const FIRST_TOKEN_MS = 100;

export function pessimisticDecodeTps(model: ModelSpec): number {
  return PESSIMISTIC_DECODE_TPS_AT_1B / Math.max(1, model.paramsB);
}

/** Upper estimate of a strike's inference time on a slice of its own. */
export function estimateServiceMs(model: ModelSpec, promptTokens: number, maxTokens: number): number {
  const decode = pessimisticDecodeTps(model);
  return FIRST_TOKEN_MS + (promptTokens * 1000) / (decode * PREFILL_SPEEDUP) + (maxTokens * 1000) / decode;
}

/** A strike's predicted timing: time to first token, time per output token after it, and the whole inference. */
export interface StrikeTiming {
  ttftMs: number;
  tpotMs: number;
  serviceMs: number;
}

/**
 * The strike's timing on a slice running `concurrent` strikes (itself included), from the
 * pessimistic model scaled by what was measured for the model (`scale`, 1 until measured).
 * Batched decoding slows every strike on a slice by the square root of how many share it.
 * Agrees with estimateServiceMs: `serviceMs` at scale 1, alone, is that estimate.
 */
export function predictTiming(model: ModelSpec, promptTokens: number, outputTokens: number, scale = 1, concurrent = 1): StrikeTiming {
  const decode = pessimisticDecodeTps(model);
  const slow = scale * Math.sqrt(Math.max(1, concurrent));
  const tpotMs = (1000 / decode) * slow;
  const prefillMs = FIRST_TOKEN_MS + (promptTokens * 1000) / (decode * PREFILL_SPEEDUP);
  const ttftMs = prefillMs * slow + tpotMs;
  return { ttftMs, tpotMs, serviceMs: prefillMs * slow + Math.max(1, outputTokens) * tpotMs };
}

/** The same, slowed by sharing the slice with `concurrent` strikes (batched: by its square root). */
export function estimateSharedServiceMs(model: ModelSpec, promptTokens: number, maxTokens: number, concurrent: number): number {
  return estimateServiceMs(model, promptTokens, maxTokens) * Math.sqrt(Math.max(1, concurrent));
}

/** Dollars for holding a slice priced at `pricePerHour` for `ms`. */
export function holdCostUsd(pricePerHour: number, ms: number): number {
  return (pricePerHour * ms) / 3_600_000;
}

/** What a slice of `model` costs per hour on a GPU of this size and price: the larger of its VRAM and compute shares. */
export function slicePricePerHour(model: ModelSpec, gpu: { vramMbPerGpu: number; tflopsPerGpu: number; pricePerGpuHour: number }): number {
  const share = Math.max(model.vramMb / gpu.vramMbPerGpu, model.minTflops / gpu.tflopsPerGpu);
  return gpu.pricePerGpuHour * Math.min(1, share);
}
