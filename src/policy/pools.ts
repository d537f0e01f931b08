import type { PoolTier } from "../schema";

/** What the policy knows of an upstream pool: a snapshot of the pool listing, no I/O. */
export interface PoolSnapshot {
  id: string;
  /**
   * The pool's type as the upstream reports it: one of the integration document's (`standard`,
   * `premium`, `dedicated`), or another a real Hosted.AI may add, which only a covenant with
   * `qos.pool_type: "any"` places work on. Preemptibility is not a pool type: it is a property of
   * an allocation, which any pool may grant.
   */
  tier: PoolTier | (string & {});
  status: "available" | "degraded" | "down";
  vramMbPerGpu: number;
  tflopsPerGpu: number;
  freeVramMb: number;
  freeTflops: number;
  pricePerGpuHour: number;
  /** A GPU-hour in preemptible allocations; the on-demand price when the upstream states no discount. */
  preemptiblePricePerGpuHour?: number;
}

/** What a GPU-hour of this pool costs, in preemptible allocations or not. */
export function gpuHourPrice(pool: Pick<PoolSnapshot, "pricePerGpuHour" | "preemptiblePricePerGpuHour">, preemptible: boolean): number {
  return preemptible ? Math.min(pool.pricePerGpuHour, pool.preemptiblePricePerGpuHour ?? pool.pricePerGpuHour) : pool.pricePerGpuHour;
}

/** A pool can ever hold the slice: one of its GPUs is big enough. */
export function poolFits(pool: PoolSnapshot, vramMb: number, tflops: number): boolean {
  return pool.vramMbPerGpu >= vramMb && pool.tflopsPerGpu >= tflops;
}

/**
 * Among pools of one type, the one to ask first: not down, big enough, most free VRAM
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
