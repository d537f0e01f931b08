// Whether a request may proceed, as pure functions of stored state: the cluster object loads the
// rows, asks here, and persists what is decided. Every refusal is an ApiError the caller can act on.
import { slicePricePerHour } from "./billing";
import { type ModelSpec, type PoolTier, findModel } from "./catalogue";
import { type ApiError, type Outcome, fail, ok } from "./errors";
import { allocationPreempted, poolUnavailable } from "./faults";
import { type GpuCapacity, placeSlice } from "./placement";
import type { AllocationRequest } from "./schemas";
import type { AllocationRow, PoolRow } from "./store";

/** Retry-After for a pool that is down or full, bounded so clients neither spin nor stall. */
export const RETRY_AFTER_BOUNDS = { min: 1, max: 60 } as const;

export interface AdmittedSlice {
  poolId: string;
  tier: PoolTier;
  gpuId: string;
  vram_mb: number;
  tflops: number;
  pricePerHour: number;
}

/**
 * Places a requested slice. `retryAfterSeconds` is asked only when the pool is full, since it
 * needs another look at the pool's allocations.
 */
export function admitAllocation(
  pool: PoolRow | undefined,
  gpus: readonly GpuCapacity[],
  request: AllocationRequest,
  retryAfterSeconds: () => number,
): Outcome<AdmittedSlice> {
  if (!pool) {
    return fail({ status: 404, type: "pool_not_found", message: `No pool ${request.pool_id} exists.`, param: "pool_id" });
  }
  if (pool.status === "down") return fail(poolUnavailable(pool.id, RETRY_AFTER_BOUNDS.max));
  const need = { vram_mb: request.requirements.min_vram_mb, tflops: request.requirements.min_tflops };
  const placement = placeSlice(gpus, need);
  if (placement.kind === "unsatisfiable") {
    return fail({
      status: 422,
      type: "requirements_unsatisfiable",
      message: `No GPU in ${pool.id} can hold ${need.vram_mb} MB and ${need.tflops} TFLOPS; each has ${pool.vram_mb_per_gpu} MB and ${pool.tflops_per_gpu} TFLOPS.`,
      param: "requirements",
      details: { vram_mb_per_gpu: pool.vram_mb_per_gpu, tflops_per_gpu: pool.tflops_per_gpu },
    });
  }
  if (placement.kind === "full") {
    return fail({
      status: 503,
      type: "capacity_exhausted",
      message: `Pool ${pool.id} has no GPU with ${need.vram_mb} MB and ${need.tflops} TFLOPS free right now.`,
      retry_after_seconds: retryAfterSeconds(),
    });
  }
  // Any pool grants preemptible slices, at its preemptible price: they are the first evicted under pressure.
  const gpuPrice = request.preemptible ? pool.preemptible_price_per_gpu_hour : pool.price_per_gpu_hour;
  const gpu = { vram_mb: pool.vram_mb_per_gpu, tflops: pool.tflops_per_gpu, price_per_gpu_hour: gpuPrice };
  return ok({ poolId: pool.id, tier: pool.tier, gpuId: placement.gpuId, ...need, pricePerHour: slicePricePerHour(gpu, need) });
}

/** Seconds until the earliest of a full pool's allocations frees its capacity, bounded. */
export function retryAfterFromExpiry(secondsUntilEarliestExpiry: number | undefined): number {
  const seconds = secondsUntilEarliestExpiry === undefined ? RETRY_AFTER_BOUNDS.min : Math.ceil(secondsUntilEarliestExpiry);
  return Math.min(RETRY_AFTER_BOUNDS.max, Math.max(RETRY_AFTER_BOUNDS.min, seconds));
}

/** `poolDown`: the allocation's pool is down, so nothing can run on it until it is back. */
export function admitInference(row: AllocationRow, modelId: string, poolDown = false): Outcome<ModelSpec> {
  if (row.status === "expired") {
    return fail({ status: 410, type: "allocation_expired", message: `Allocation ${row.id} expired at ${new Date(row.expires_at).toISOString()}.` });
  }
  if (row.status === "preempted") return fail(allocationPreempted(row.id));
  if (row.status !== "active") {
    return fail({ status: 409, type: "allocation_not_active", message: `Allocation ${row.id} is ${row.status}.`, details: { status: row.status } });
  }
  if (poolDown) return fail(poolUnavailable(row.pool_id, RETRY_AFTER_BOUNDS.max));
  const model = findModel(modelId);
  if (!model) {
    return fail({ status: 422, type: "unknown_model", message: `Model ${modelId} is not served here.`, param: "model" });
  }
  if (model.vram_mb > row.vram_mb) {
    return fail(insufficientVram(model, row));
  }
  return ok(model);
}

function insufficientVram(model: ModelSpec, row: AllocationRow): ApiError {
  return {
    status: 422,
    type: "insufficient_vram",
    message: `${model.id} needs ${model.vram_mb} MB of VRAM; allocation ${row.id} has ${row.vram_mb} MB.`,
    param: "model",
    details: { required_vram_mb: model.vram_mb, allocation_vram_mb: row.vram_mb },
  };
}

/**
 * Adds [start, end] to the union of busy intervals. Inferences start in the order the cluster
 * sees them, so a single high-water mark is enough to never count overlap twice.
 */
export function extendBusy(row: Pick<AllocationRow, "busy_ms" | "busy_until">, start: number, end: number) {
  return {
    busyMs: row.busy_ms + Math.max(0, end - Math.max(start, row.busy_until)),
    busyUntil: Math.max(row.busy_until, end),
  };
}
