// How allocations begin and end: created once placed; released by their owner, preempted for
// other work, or expired. Each ending sets the final status and bill together, and the capacity
// is free from that moment because free capacity is always derived from active allocations.
import type { AdmittedSlice } from "./admission";
import { billedSeconds, costUsd } from "./billing";
import { planEviction } from "./preemption";
import { randomHex } from "./random";
import type { AllocationRequest } from "./schemas";
import type { AllocationRow, ClusterStore } from "./store";

export function createAllocation(
  store: ClusterStore,
  owner: string,
  slice: AdmittedSlice,
  request: AllocationRequest,
  emulatedNow: number,
): AllocationRow {
  const id = `alloc_${randomHex(12)}`;
  store.insertAllocation({
    id,
    sequence: store.increment("created_total"),
    owner,
    pool_id: slice.poolId,
    gpu_id: slice.gpuId,
    vram_mb: slice.vram_mb,
    tflops: slice.tflops,
    preemptible: request.preemptible ? 1 : 0,
    duration_seconds: request.duration_seconds,
    created_at: emulatedNow,
    expires_at: emulatedNow + request.duration_seconds * 1000,
    price_per_hour: slice.pricePerHour,
    metadata: JSON.stringify(request.metadata ?? {}),
  });
  const row = store.allocation(id);
  if (!row) throw new Error(`allocation ${id} vanished after insert`);
  return row;
}

/** Ends an active allocation now, billing the whole emulated seconds it was held. */
export function endNow(store: ClusterStore, row: AllocationRow, status: "released" | "preempted", emulatedNow: number): void {
  const seconds = billedSeconds(emulatedNow - row.created_at, row.duration_seconds);
  store.endAllocation(row.id, status, emulatedNow, seconds, costUsd(seconds, row.price_per_hour));
  store.increment(`${status}_total`);
}

/**
 * Preempts allocations: they stop at once, inferences running on them end without a result
 * (their Workers notice and answer 409), and their holders pay for the time they had them.
 */
export function preemptAll(store: ClusterStore, rows: readonly AllocationRow[], emulatedNow: number): string[] {
  for (const row of rows) {
    endNow(store, row, "preempted", emulatedNow);
    store.dropInflightOf(row.id);
  }
  return rows.map((row) => row.id);
}

/** Expires every active allocation whose term is over; an expired allocation is billed its full term. */
export function expireDue(store: ClusterStore, emulatedNow: number): number {
  const due = store.activeDueBy(emulatedNow);
  for (const row of due) {
    store.endAllocation(row.id, "expired", row.expires_at, row.duration_seconds, costUsd(row.duration_seconds, row.price_per_hour));
  }
  if (due.length > 0) store.increment("expired_total", due.length);
  return due.length;
}

/**
 * Spot capacity: a request for a full pool takes the room of preemptible allocations there, when
 * evicting them is enough. Returns whether anything was preempted.
 */
export function evictFor(store: ClusterStore, poolId: string, request: AllocationRequest, emulatedNow: number): boolean {
  const need = { vram_mb: request.requirements.min_vram_mb, tflops: request.requirements.min_tflops };
  const candidates = store.activePreemptible(poolId);
  const victims = planEviction(store.gpuCapacities(poolId), candidates, need);
  if (victims === undefined || victims.length === 0) return false;
  preemptAll(store, candidates.filter((row) => victims.includes(row.id)), emulatedNow);
  return true;
}
