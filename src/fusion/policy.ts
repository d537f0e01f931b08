import { estimateServiceMs, holdCostUsd, type ModelCatalogue } from "../policy";
import { FUSION_DEFAULTS, type FusionPolicy } from "../schema";
import type { CostEstimator } from "./types";

type Defaulted = typeof FUSION_DEFAULTS;

/** A covenant's fusion policy with every default filled in. */
export type ResolvedFusionPolicy = Defaulted & Pick<FusionPolicy, "map_model" | "reduce_model" | "judge_model" | "ensemble_models">;

export function resolveFusionPolicy(policy: FusionPolicy = {}): ResolvedFusionPolicy {
  const out: ResolvedFusionPolicy = { ...FUSION_DEFAULTS, ensemble_labels: [...FUSION_DEFAULTS.ensemble_labels] };
  for (const [key, value] of Object.entries(policy)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/**
 * A plan estimator from each model's slice price (dollars an hour, e.g. its first target's):
 * the policy core's pessimistic service time × the price. Lease idle tails are left out: they are
 * paid once per lease, not per fragment, and the ledger books them when the lease is released.
 */
export function estimatorFromPrices(catalogue: ModelCatalogue, pricePerHour: (model: string) => number): CostEstimator {
  return (q) => {
    const spec = catalogue.get(q.model);
    if (!spec) throw new Error(`no model ${JSON.stringify(q.model)} in the catalogue`);
    return holdCostUsd(pricePerHour(q.model), estimateServiceMs(spec, q.prompt_tokens, q.max_tokens));
  };
}
