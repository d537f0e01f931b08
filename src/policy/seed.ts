import type { PoolTier } from "../schema";
import type { ModelSpec } from "./models";
import { pickPoolInTier, type PoolSnapshot } from "./pools";

/** VRAM below which the seed rule sends work to preemptible capacity. */
export const SEED_PREEMPTIBLE_VRAM_MB = 8 * 1024;

/**
 * The seed allocation rule, kept as the baseline every smarter policy is measured against:
 * latency-sensitive → dedicated; VRAM < 8 GB → preemptible; otherwise standard.
 */
export function seedTier(model: ModelSpec, latencySensitive: boolean): PoolTier {
  if (latencySensitive) return "dedicated";
  if (model.vramMb < SEED_PREEMPTIBLE_VRAM_MB) return "preemptible";
  return "standard";
}

export interface PlacementDecision {
  tier: PoolTier;
  poolId: string;
  preemptible: boolean;
  requirements: { min_tflops: number; min_vram_mb: number; max_vram_mb: number };
}

export type PlacementResult =
  | { kind: "place"; placement: PlacementDecision }
  | { kind: "no_pool"; tier: PoolTier; reason: string };

export function seedPlacement(
  model: ModelSpec,
  latencySensitive: boolean,
  pools: readonly PoolSnapshot[],
): PlacementResult {
  const tier = seedTier(model, latencySensitive);
  const pool = pickPoolInTier(pools, tier, model.vramMb, model.minTflops);
  if (!pool) {
    return {
      kind: "no_pool",
      tier,
      reason: `no ${tier} pool is up with a GPU that fits ${model.id} (${model.vramMb} MB, ${model.minTflops} TFLOPS)`,
    };
  }
  return {
    kind: "place",
    placement: {
      tier,
      poolId: pool.id,
      preemptible: tier === "preemptible",
      requirements: { min_tflops: model.minTflops, min_vram_mb: model.vramMb, max_vram_mb: model.vramMb },
    },
  };
}
