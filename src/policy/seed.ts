import type { PoolTier } from "../schema";
import type { ModelSpec } from "./models";
import { pickPoolInTier, type PoolSnapshot } from "./pools";

/**
 * VRAM below which the seed rule asks for preemptible capacity: the document's
 * `resources.vram < 8000`, in MB as written (not 8 GiB).
 */
export const SEED_PREEMPTIBLE_VRAM_MB = 8000;

/** Where the seed rule puts a model: a pool type, and whether the allocation is preemptible. */
export interface SeedChoice {
  tier: PoolTier;
  preemptible: boolean;
}

/**
 * The seed allocation rule, kept as the baseline every smarter policy is measured against:
 * latency-sensitive → dedicated; VRAM < 8000 MB → preemptible; otherwise standard. Preemptible
 * is a property of an allocation, so "preemptible" is a preemptible allocation on a standard
 * pool (the document's own example: `standard-us-east` with `preemptible: true`).
 */
export function seedChoice(model: ModelSpec, latencySensitive: boolean): SeedChoice {
  if (latencySensitive) return { tier: "dedicated", preemptible: false };
  if (model.vramMb < SEED_PREEMPTIBLE_VRAM_MB) return { tier: "standard", preemptible: true };
  return { tier: "standard", preemptible: false };
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

/**
 * The seed rule's placement. `allowPreemptible` is what the covenant and the model matrix allow
 * (see preemptibleAllowed): where they forbid it, the rule's preemptible allocation becomes an
 * ordinary one on the same standard pool.
 */
export function seedPlacement(
  model: ModelSpec,
  latencySensitive: boolean,
  pools: readonly PoolSnapshot[],
  allowPreemptible = model.preemptibleOk,
): PlacementResult {
  const choice = seedChoice(model, latencySensitive);
  const pool = pickPoolInTier(pools, choice.tier, model.vramMb, model.minTflops);
  if (!pool) {
    return {
      kind: "no_pool",
      tier: choice.tier,
      reason: `no ${choice.tier} pool is up with a GPU that fits ${model.id} (${model.vramMb} MB, ${model.minTflops} TFLOPS)`,
    };
  }
  return {
    kind: "place",
    placement: {
      tier: choice.tier,
      poolId: pool.id,
      preemptible: choice.preemptible && allowPreemptible,
      requirements: { min_tflops: model.minTflops, min_vram_mb: model.vramMb, max_vram_mb: model.vramMb },
    },
  };
}
