import type { CovenantContract, Priority } from "../schema";
import { slicePricePerHour } from "./estimate";
import type { ModelSpec } from "./models";
import { poolFits, type PoolSnapshot } from "./pools";
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
 * Pools a covenant may use for a model, best first. With a fallback order the covenant's order
 * stands; otherwise the cheapest slice wins, and pools with room right now come before full ones.
 * Preemptible capacity only when both the covenant and the model accept it.
 */
export function candidatePools(
  contract: CovenantContract,
  model: ModelSpec,
  pools: readonly PoolSnapshot[],
  exclude: ReadonlySet<string> = new Set(),
): PoolSnapshot[] {
  const req = sliceRequirements(model, contract);
  // Spot capacity is evicted first under pressure: high and critical work never goes there.
  const allowPreemptible = contract.qos.preemptible_ok && model.preemptibleOk && priorityRank(contract.qos.priority) <= priorityRank("normal");
  const usable = pools.filter(
    (p) =>
      !exclude.has(p.id) &&
      p.status !== "down" &&
      poolFits(p, req.min_vram_mb, req.min_tflops) &&
      (allowPreemptible || p.tier !== "preemptible"),
  );
  if (contract.fallback.length > 0) {
    // The covenant's own order, and only what it names (a list of just `local` names no pool).
    const explicit = contract.fallback.filter((t) => t !== "local");
    return explicit.map((id) => usable.find((p) => p.id === id)).filter((p): p is PoolSnapshot => p !== undefined);
  }
  const hasRoom = (p: PoolSnapshot) => p.freeVramMb >= req.min_vram_mb && p.freeTflops >= req.min_tflops;
  return [...usable].sort(
    (a, b) =>
      Number(hasRoom(b)) - Number(hasRoom(a)) ||
      slicePricePerHour(model, a) - slicePricePerHour(model, b) ||
      a.id.localeCompare(b.id),
  );
}
