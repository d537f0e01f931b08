import type { PoolTier } from "../schema";

/** What the policy knows of an upstream pool: a snapshot of `GET /pools`, no I/O. */
export interface PoolSnapshot {
  id: string;
  tier: PoolTier;
  status: "available" | "degraded" | "down";
  vramMbPerGpu: number;
  tflopsPerGpu: number;
  freeVramMb: number;
  freeTflops: number;
  pricePerGpuHour: number;
}

/** A pool can ever hold the slice: one of its GPUs is big enough. */
export function poolFits(pool: PoolSnapshot, vramMb: number, tflops: number): boolean {
  return pool.vramMbPerGpu >= vramMb && pool.tflopsPerGpu >= tflops;
}

/**
 * Among pools of one tier, the one to ask first: not down, big enough, most free VRAM
 * (ties by id so the choice is deterministic).
 */
export function pickPoolInTier(
  pools: readonly PoolSnapshot[],
  tier: PoolTier,
  vramMb: number,
  tflops: number,
): PoolSnapshot | undefined {
  return pools
    .filter((p) => p.tier === tier && p.status !== "down" && poolFits(p, vramMb, tflops))
    .sort((a, b) => b.freeVramMb - a.freeVramMb || a.id.localeCompare(b.id))[0];
}
