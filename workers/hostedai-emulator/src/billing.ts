// What slices cost. Prices are per hour of emulated time; holding is billed per whole second.
import type { SliceNeed } from "./placement";

// Held time is a difference of floats; a hair over a whole second must not bill one more.
const EPSILON = 1e-9;

/** What a slice costs: the GPU's price times the larger of the two shares it occupies. */
export function slicePricePerHour(
  gpu: { vram_mb: number; tflops: number; price_per_gpu_hour: number },
  slice: SliceNeed,
): number {
  const share = Math.max(slice.vram_mb / gpu.vram_mb, slice.tflops / gpu.tflops);
  return roundUsd(gpu.price_per_gpu_hour * share);
}

/** Seconds billed for holding a slice: whole emulated seconds, at least one, at most the term. */
export function billedSeconds(heldMs: number, durationSeconds: number): number {
  return Math.min(durationSeconds, Math.max(1, Math.ceil(heldMs / 1000 - EPSILON)));
}

export function costUsd(seconds: number, pricePerHour: number): number {
  return roundUsd((seconds * pricePerHour) / 3600);
}

/** Dollar amounts keep nine decimals: enough for a millisecond on the cheapest slice. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}
