import type { CovenantContract } from "../schema";
import type { ModelSpec } from "./models";
import { allocatePreemptible, candidatePools, poolExclusion, poolTypeAllowed, preemptibleAllowed, slicePriceOn, type PlacementPolicy } from "./placement";
import type { PoolSnapshot } from "./pools";
import { seedPlacement } from "./seed";

/**
 * Somewhere a strike can run: a Hosted.AI pool (with whether a new allocation there is asked
 * preemptible, and what its slice costs so), or the local node.
 */
export type Target =
  | { kind: "pool"; id: string; pricePerHour: number; preemptible: boolean }
  | { kind: "local"; id: "local"; pricePerHour: 0; preemptible: false };

export interface TargetPlan {
  targets: Target[];
  /** Targets the covenant rules out for this strike, and why (reported if everything fails). */
  excluded: { id: string; reason: string }[];
}

/**
 * The fallback chain for one strike, best first. Pools come from the placement policy (the
 * covenant's own order when it gives one); the local node comes where the covenant lists it, or
 * (homeskillet policy) last when it lists nothing and a node is configured (whether it serves the model is asked only
 * if a strike gets that far). A pool pricier than the first choice is dropped when the covenant
 * forbids pricier fallbacks.
 */
export function planTargets(
  policy: PlacementPolicy,
  contract: CovenantContract,
  model: ModelSpec,
  latencySensitive: boolean,
  pools: readonly PoolSnapshot[],
  localAvailable: boolean,
): TargetPlan {
  const excluded: TargetPlan["excluded"] = [];
  let ordered: { pool: PoolSnapshot; preemptible: boolean }[];
  const homeskillet = (p: PoolSnapshot) => ({ pool: p, preemptible: allocatePreemptible(contract, model, p, latencySensitive) });
  if (policy === "seed") {
    const seed = seedPlacement(model, latencySensitive, pools, preemptibleAllowed(contract, model, latencySensitive));
    const first = seed.kind === "place" ? pools.filter((p) => p.id === seed.placement.poolId).map((p) => ({ pool: p, preemptible: seed.placement.preemptible })) : [];
    if (seed.kind === "no_pool") excluded.push({ id: seed.tier, reason: seed.reason });
    const rest = contract.fallback.length > 0 ? candidatePools(contract, model, pools, new Set(), latencySensitive).filter((p) => !first.some((f) => f.pool === p)).map(homeskillet) : [];
    ordered = [...first, ...rest];
  } else {
    ordered = candidatePools(contract, model, pools, new Set(), latencySensitive).map(homeskillet);
    if (contract.fallback.length === 0) {
      // Pools that could hold the model but that its pool type rules out: said when nothing runs it.
      const anyType = { ...contract, qos: { ...contract.qos, pool_type: "any" as const } };
      for (const p of pools) {
        if (poolTypeAllowed(contract, model, p, latencySensitive) || poolExclusion(anyType, model, p, latencySensitive) !== null) continue;
        excluded.push({ id: p.id, reason: poolExclusion(contract, model, p, latencySensitive)! });
      }
    }
  }

  const targets: Target[] = [];
  const primaryPrice = ordered[0] ? slicePriceOn(model, ordered[0].pool, ordered[0].preemptible) : Infinity;
  for (const { pool: p, preemptible } of ordered) {
    const price = slicePriceOn(model, p, preemptible);
    if (!contract.cost.pricier_fallback && targets.length > 0 && price > primaryPrice * 1.000001) {
      excluded.push({ id: p.id, reason: `costs $${price.toFixed(4)}/h against $${primaryPrice.toFixed(4)}/h for the first choice; the covenant does not allow pricier fallbacks` });
      continue;
    }
    targets.push({ kind: "pool", id: p.id, pricePerHour: price, preemptible });
  }

  const listed = contract.fallback.indexOf("local");
  // The seed baseline knows nothing of local nodes unless the covenant names one.
  const wantsLocal = listed >= 0 || (contract.fallback.length === 0 && policy !== "seed");
  if (wantsLocal && localAvailable) {
    const local: Target = { kind: "local", id: "local", pricePerHour: 0, preemptible: false };
    if (listed >= 0) {
      // Keep the covenant's position: after the pools it lists before `local`.
      const before = new Set(contract.fallback.slice(0, listed));
      const at = targets.findIndex((t) => !before.has(t.id));
      targets.splice(at < 0 ? targets.length : at, 0, local);
    } else {
      targets.push(local);
    }
  } else if (listed >= 0) {
    excluded.push({ id: "local", reason: "no local node is configured" });
  }
  for (const id of contract.fallback) {
    if (id !== "local" && !targets.some((t) => t.id === id) && !excluded.some((e) => e.id === id)) {
      const pool = pools.find((p) => p.id === id);
      excluded.push({ id, reason: (pool && poolExclusion(contract, model, pool, latencySensitive)) ?? `pool ${id} is unknown` });
    }
  }
  return { targets, excluded };
}
