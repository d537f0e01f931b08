// What a strike may cost before it runs: the upper estimate the budget is checked and reserved
// against, and the smaller models a covenant that prefers degrading to refusing can fall back on.
import { candidatePools, estimateServiceMs, holdCostUsd, needsPoolPrices, slicePricePerHour, type ModelCatalogue, type ModelSpec, type PlacementPolicy, type PoolSnapshot } from "../policy";
import type { BudgetRefusal } from "../policy/budget";
import type { CovenantContract } from "../schema";
import type { LeaseManager } from "./lease-manager";
import type { Ledger } from "./ledger";
import type { StrikeInput } from "./types";

export interface CostDeps {
  leases: LeaseManager;
  ledger: Ledger;
  models: ModelCatalogue;
}

interface Pricing {
  contract: CovenantContract;
  policy: PlacementPolicy;
}

/** Allowed models smaller than `model`, smallest first. */
export function smallerModels(models: ModelCatalogue, model: ModelSpec, contract: CovenantContract): ModelSpec[] {
  return contract.models
    .map((id) => models.get(id))
    .filter((m): m is ModelSpec => m !== undefined && m.paramsB < model.paramsB)
    .sort((a, b) => a.paramsB - b.paramsB);
}

/**
 * Upper estimate in dollars: a warm lease's price, or the priciest allowed pool's plus its idle
 * tail. Undefined, rather than a free strike, when its covenant needs pool prices and Hosted.AI's
 * pool listing (hence every price) cannot be had.
 */
export async function estimateUsd(leases: LeaseManager, model: ModelSpec, input: StrikeInput, ctx: Pricing): Promise<number | undefined> {
  const serviceMs = estimateServiceMs(model, input.promptTokens, input.maxTokens);
  const warm = leases.list().find((l) => l.model === model.id && l.state === "active");
  if (warm && ctx.policy !== "seed") return holdCostUsd(warm.pricePerHour, serviceMs);
  let pools: PoolSnapshot[] = [];
  try {
    pools = await leases.poolSnapshot();
  } catch {
    if (needsPoolPrices(ctx.contract)) return undefined;
  }
  // A latency-sensitive strike may go to dedicated capacity: its price counts too.
  const prices = candidatePools(ctx.contract, model, pools, new Set(), input.latencySensitive).map((p) => slicePricePerHour(model, p));
  const price = prices.length > 0 ? Math.max(...prices) : 0;
  // A new allocation is billed at least a second (an isolated strike pays all of its own), and a
  // shared lease is held through its idle timeout.
  const ownAllocation = ctx.policy === "seed" || ctx.contract.lease.isolation === "per_strike";
  const tailMs = ownAllocation ? 1000 : ctx.contract.lease.idle_timeout_s * 1000;
  return holdCostUsd(price, serviceMs + tailMs);
}

/**
 * The strike's maximum expected cost, checked against the covenant's limits before anything is
 * allocated and reserved in the same turn as the check: strikes that arrive together each await
 * their estimate, and a check another strike's reservation has not yet reached would let them all
 * through. Over a limit: the refusal, or (when the covenant says degrade) the smallest allowed
 * model that fits. With no pool price to be had, the strike is admitted only for the local node,
 * which costs nothing (`poolsPriced: false`): never onto a pool as if that were free.
 */
export async function withinLimits(
  deps: CostDeps,
  model: ModelSpec,
  input: StrikeInput,
  ctx: Pricing,
): Promise<{ ok: true; model: ModelSpec; poolsPriced: boolean } | { ok: false; refusal: BudgetRefusal }> {
  const admitted = (m: ModelSpec, usd: number, poolsPriced = true) => {
    deps.ledger.reserve(input.strikeId, usd);
    return { ok: true as const, model: m, poolsPriced };
  };
  const first = await estimateUsd(deps.leases, model, input, ctx);
  if (first === undefined) {
    const refusal = deps.ledger.check(ctx.contract, 0);
    return refusal ? { ok: false, refusal } : admitted(model, 0, false);
  }
  const refusal = deps.ledger.check(ctx.contract, first);
  if (!refusal) return admitted(model, first);
  if (ctx.contract.cost.on_limit === "degrade") {
    for (const m of smallerModels(deps.models, model, ctx.contract)) {
      // The listing answered for the first estimate, so these are priced from the same cache.
      const usd = (await estimateUsd(deps.leases, m, input, ctx)) ?? Infinity;
      if (!deps.ledger.check(ctx.contract, usd)) return admitted(m, usd);
    }
  }
  return { ok: false, refusal };
}
