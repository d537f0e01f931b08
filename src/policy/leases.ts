import type { CovenantContract } from "../schema";
import { estimateSharedServiceMs } from "./estimate";
import type { ModelSpec } from "./models";

/** A lease: Homeskillet's hold on one allocation, reused by many strikes until it expires. */
export interface Lease {
  leaseId: string;
  allocationId: string;
  poolId: string;
  model: string;
  vramMb: number;
  tflops: number;
  pricePerHour: number;
  preemptible: boolean;
  createdAt: number;
  expiresAt: number;
  /** `active` takes new strikes; `draining` finishes its strikes and is then released. */
  state: "active" | "draining";
  inFlight: number;
  strikesServed: number;
  /** Ms with at least one strike running, closed intervals only. */
  busyMs: number;
  /** When the current busy interval began (inFlight > 0), else null. */
  busySince: number | null;
  lastUsedAt: number;
}

export interface StrikeNeed {
  model: ModelSpec;
  promptTokens: number;
  maxTokens: number;
  latencySensitive: boolean;
  /** Observed ÷ pessimistic service time for this model (1 until measured); see observeService. */
  serviceScale?: number;
}

/** Never start a strike on a lease that could expire under it: margin beyond the strike's own estimate. */
export const EXPIRY_SAFETY_MS = 5_000;

export type AcquireDecision =
  | { kind: "reuse"; leaseId: string }
  /** An allocation for this model is already on its way with a free slot: wait for it. */
  | { kind: "join" }
  | { kind: "allocate" }
  | { kind: "wait"; reason: string };

/** Allocations requested but not yet granted: for the strike's model, and in all. */
export interface PendingAllocations {
  forModel: number;
  /** Strikes already waiting for this model's pending allocations. */
  claims: number;
  total: number;
}

export const NO_PENDING: PendingAllocations = { forModel: 0, claims: 0, total: 0 };

/**
 * A lease fits a strike when it runs the same model, is active, has a free concurrency slot,
 * will not expire before the strike can finish, and sharing it still meets the latency SLO.
 */
export function leaseFits(lease: Lease, need: StrikeNeed, contract: CovenantContract, now: number): boolean {
  if (lease.state !== "active" || lease.model !== need.model.id) return false;
  if (lease.inFlight >= contract.lease.max_concurrency) return false;
  const pessimistic = estimateSharedServiceMs(need.model, need.promptTokens, need.maxTokens, lease.inFlight + 1);
  if (lease.expiresAt - now < pessimistic + EXPIRY_SAFETY_MS) return false;
  // The SLO check uses the expected time (pessimistic × what was observed), or every sharing
  // decision would look like an SLO miss.
  const shared = pessimistic * (need.serviceScale ?? 1);
  return lease.inFlight === 0 || shared <= contract.qos.latency_slo_ms;
}

/**
 * Among fitting leases, the busiest: packing strikes onto few slices lets the others go idle and
 * be released, which is where GPU utilisation comes from. Ties by id for determinism.
 */
export function bestWarmLease(leases: readonly Lease[], need: StrikeNeed, contract: CovenantContract, now: number): Lease | undefined {
  return leases
    .filter((l) => leaseFits(l, need, contract, now))
    .sort((a, b) => b.inFlight - a.inFlight || a.leaseId.localeCompare(b.leaseId))[0];
}

/**
 * Reuse a warm lease; else join an allocation already on its way that has a free slot (a burst
 * must not allocate once per strike); else allocate while under the covenant's lease limit;
 * else wait for a slot.
 */
export function decideAcquire(
  leases: readonly Lease[],
  need: StrikeNeed,
  contract: CovenantContract,
  now: number,
  pending: PendingAllocations = NO_PENDING,
): AcquireDecision {
  const lease = bestWarmLease(leases, need, contract, now);
  if (lease) return { kind: "reuse", leaseId: lease.leaseId };
  // The allocating strike takes one slot of each pending lease; joiners fill the rest.
  if (pending.forModel * (contract.lease.max_concurrency - 1) > pending.claims) return { kind: "join" };
  if (leases.length + pending.total < contract.lease.max_leases) return { kind: "allocate" };
  return { kind: "wait", reason: `all ${contract.lease.max_leases} leases of the covenant are busy` };
}

/** Busy ms of a lease up to `now`, counting the open interval. */
export function leaseBusyMs(lease: Lease, now: number): number {
  return lease.busyMs + (lease.busySince !== null ? now - lease.busySince : 0);
}

/** Busy ÷ held time, 0..1. */
export function leaseUtilization(lease: Lease, now: number): number {
  const held = now - lease.createdAt;
  return held > 0 ? Math.min(1, leaseBusyMs(lease, now) / held) : 0;
}

/** The lease after a strike starts on it. */
export function startOnLease<L extends Lease>(lease: L, now: number): L {
  return { ...lease, inFlight: lease.inFlight + 1, busySince: lease.busySince ?? now, lastUsedAt: now };
}

/** The lease after a strike on it ends. */
export function finishOnLease<L extends Lease>(lease: L, now: number): L {
  const inFlight = Math.max(0, lease.inFlight - 1);
  const closing = inFlight === 0 && lease.busySince !== null;
  return {
    ...lease,
    inFlight,
    strikesServed: lease.strikesServed + 1,
    busyMs: closing ? lease.busyMs + (now - lease.busySince!) : lease.busyMs,
    busySince: closing ? null : lease.busySince,
    lastUsedAt: now,
  };
}
