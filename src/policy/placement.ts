import type { CovenantContract, Priority } from "../schema";
import { slicePricePerHour } from "./estimate";
import type { ModelSpec } from "./models";
import { gpuHourPrice, poolFits, type PoolSnapshot } from "./pools";
import type { PlacementDecision } from "./seed";

export type PlacementPolicy = "homeskillet" | "seed";

const PRIORITY_ORDER: readonly Priority[] = ["low", "normal", "high", "critical"];

/** Priority classes in order: a larger rank is served first. */
export function priorityRank(p: Priority): number {
  return PRIORITY_ORDER.indexOf(p);
}

/** A slice's requirements: the model's floor, raised by the covenant's resource needs. */
export function sliceRequirements(model: ModelSpec, contract: CovenantContract): PlacementDecision["requirements"] {
  const minVram = Math.max(model.vramMb, contract.resources.min_vram_mb ?? 0);
  const maxVram = Math.max(minVram, contract.resources.max_vram_mb ?? minVram);
  return { min_tflops: Math.max(model.minTflops, contract.resources.min_tflops ?? 0), min_vram_mb: minVram, max_vram_mb: maxVram };
}

/**
 * Whether a strike may run on a preemptible allocation: only where the covenant allows it
 * (`qos.preemptible_ok`) and the model matrix allows it (`preemptibleOk`), for work of normal
 * priority or lower (preemptible capacity is evicted first under pressure), and never for a
 * latency-sensitive strike (an eviction would run it again from the start). Every policy asks
 * this, the seed rule included.
 */
export function preemptibleAllowed(contract: CovenantContract, model: ModelSpec, latencySensitive = false): boolean {
  return !latencySensitive && contract.qos.preemptible_ok && model.preemptibleOk && priorityRank(contract.qos.priority) <= priorityRank("normal");
}

/**
 * Whether the covenant's pool types let the model run on this pool: with `qos.pool_type:
 * "recommended"` (the default) only on the pool type the model matrix gives it
 * (`recommendedTier`), with `"any"` on any type. A latency-sensitive strike may also use
 * dedicated pools, which it prefers (see candidatePools).
 */
export function poolTypeAllowed(contract: CovenantContract, model: ModelSpec, pool: Pick<PoolSnapshot, "tier">, latencySensitive = false): boolean {
  if (contract.qos.pool_type === "any") return true;
  return pool.tier === model.recommendedTier || (latencySensitive && pool.tier === "dedicated");
}

/**
 * Whether a new allocation for the model on this pool is asked for preemptible (homeskillet
 * policy): where it is allowed and the pool sells preemptible capacity for less. An eviction
 * costs a re-run, so at the same price an ordinary allocation is the better buy.
 */
export function allocatePreemptible(contract: CovenantContract, model: ModelSpec, pool: PoolSnapshot, latencySensitive = false): boolean {
  return preemptibleAllowed(contract, model, latencySensitive) && gpuHourPrice(pool, true) < pool.pricePerGpuHour;
}

/** What a slice of the model costs per hour on this pool, preemptible or not. */
export function slicePriceOn(model: ModelSpec, pool: PoolSnapshot, preemptible: boolean): number {
  return slicePricePerHour(model, { vramMbPerGpu: pool.vramMbPerGpu, tflopsPerGpu: pool.tflopsPerGpu, pricePerGpuHour: gpuHourPrice(pool, preemptible) });
}

/** Why the covenant may not place the model on this pool (for this strike), or null when it may. */
export function poolExclusion(contract: CovenantContract, model: ModelSpec, pool: PoolSnapshot, latencySensitive = false): string | null {
  const req = sliceRequirements(model, contract);
  if (pool.status === "down") return `pool ${pool.id} is down`;
  if (!poolFits(pool, req.min_vram_mb, req.min_tflops)) {
    return `no GPU of ${pool.id} can hold ${model.id} (${req.min_vram_mb} MB, ${req.min_tflops} TFLOPS)`;
  }
  if (!poolTypeAllowed(contract, model, pool, latencySensitive)) {
    const allowed = latencySensitive ? `${model.recommendedTier} or, latency-sensitive, dedicated` : model.recommendedTier;
    return `${pool.id} is a ${pool.tier} pool; ${model.id} runs on ${allowed} pools under qos.pool_type "recommended" ("any" allows every type)`;
  }
  return null;
}

/**
 * Pools a covenant may use for a model, best first: up, big enough, and of a type its
 * `qos.pool_type` allows. With a fallback order the covenant's order stands (only what it names);
 * otherwise pools with room right now come before full ones, then the cheapest slice (at the
 * price it would be allocated at: preemptible where allowed and cheaper) wins.
 *
 * A latency-sensitive strike gets dedicated capacity: dedicated pools come first (also in a
 * covenant's own order), and the others stay behind them only as fallbacks for when no dedicated
 * pool can take it; it is never placed preemptible.
 */
export function candidatePools(
  contract: CovenantContract,
  model: ModelSpec,
  pools: readonly PoolSnapshot[],
  exclude: ReadonlySet<string> = new Set(),
  latencySensitive = false,
): PoolSnapshot[] {
  const req = sliceRequirements(model, contract);
  const usable = pools.filter((p) => !exclude.has(p.id) && poolExclusion(contract, model, p, latencySensitive) === null);
  const dedicatedFirst = (a: PoolSnapshot, b: PoolSnapshot) => (latencySensitive ? Number(b.tier === "dedicated") - Number(a.tier === "dedicated") : 0);
  if (contract.fallback.length > 0) {
    // The covenant's own order, and only what it names (a list of just `local` names no pool).
    const explicit = contract.fallback.filter((t) => t !== "local");
    const named = explicit.map((id) => usable.find((p) => p.id === id)).filter((p): p is PoolSnapshot => p !== undefined);
    return named.sort(dedicatedFirst);
  }
  const hasRoom = (p: PoolSnapshot) => p.freeVramMb >= req.min_vram_mb && p.freeTflops >= req.min_tflops;
  const price = (p: PoolSnapshot) => slicePriceOn(model, p, allocatePreemptible(contract, model, p, latencySensitive));
  return [...usable].sort(
    (a, b) =>
      dedicatedFirst(a, b) ||
      Number(hasRoom(b)) - Number(hasRoom(a)) ||
      price(a) - price(b) ||
      a.id.localeCompare(b.id),
  );
}
