import type { CovenantContract } from "../schema";
import { estimateSharedServiceMs, predictTiming } from "./estimate";
import { meetsSlo, type StrikeLatency } from "./slo";
import { BILLING_STEP_MS } from "./warm";
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
  /** Tokens the answer is expected to need (the classifier's estimate, at most maxTokens); maxTokens when unknown. */
  outputTokens?: number;
  /** Predicted ms from asking for an allocation on the pool to holding it (measured; a default until then). */
  allocateMs?: number;
}

/** Never start a strike on a lease that could expire under it: margin beyond the strike's own estimate. */
export const EXPIRY_SAFETY_MS = 5_000;

/** What an allocation is assumed to take before one was measured on the pool: above the emulator's provisioning, under the integration document's 200 ms p95 target. */
export const DEFAULT_ALLOCATE_MS = 150;

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

/** The strike's predicted timing from its arrival if it takes one option: waiting `waitMs`, then running with `concurrent` strikes on the slice. */
export function predictOption(need: StrikeNeed, waitMs: number, concurrent: number): StrikeLatency {
  const t = predictTiming(need.model, need.promptTokens, need.outputTokens ?? need.maxTokens, need.serviceScale ?? 1, concurrent);
  return { e2eMs: waitMs + t.serviceMs, ttftMs: waitMs + t.ttftMs, tpotMs: t.tpotMs };
}

/**
 * A lease has a slot for the strike when it runs the same model, is active, has a free
 * concurrency slot and will not expire before the strike can finish (on the pessimistic estimate).
 */
export function slotOpen(lease: Lease, need: StrikeNeed, contract: CovenantContract, now: number): boolean {
  if (lease.state !== "active" || lease.model !== need.model.id) return false;
  if (lease.inFlight >= contract.lease.max_concurrency) return false;
  const pessimistic = estimateSharedServiceMs(need.model, need.promptTokens, need.maxTokens, lease.inFlight + 1);
  return lease.expiresAt - now >= pessimistic + EXPIRY_SAFETY_MS;
}

/**
 * A lease fits a strike when it has a slot for it and, if the slice is busy, sharing it is
 * predicted to keep the SLOs: the newcomer's, and the per-token bound of the strikes already
 * there, which batching slows alike.
 */
export function leaseFits(lease: Lease, need: StrikeNeed, contract: CovenantContract, now: number): boolean {
  if (!slotOpen(lease, need, contract, now)) return false;
  return lease.inFlight === 0 || meetsSlo(predictOption(need, 0, lease.inFlight + 1), contract.qos);
}

/** Whole seconds a strike running `serviceMs` from `now` adds to the lease's bill (per-second billing, at least one second). */
export function addedBilledSeconds(lease: Pick<Lease, "createdAt">, now: number, serviceMs: number): number {
  const billed = (t: number) => Math.max(1, Math.ceil((t - lease.createdAt) / BILLING_STEP_MS));
  return billed(now + serviceMs) - billed(now);
}

/**
 * Among fitting leases, an idle one first, else the least busy: it slows the strike least. Among
 * idle ones, the one the strike adds the fewest billed seconds to (it fits in a second already
 * paid for), then the most recently used, so the others stay idle and go back at the end of
 * their billed second. Ties by id for determinism.
 */
export function bestWarmLease(leases: readonly Lease[], need: StrikeNeed, contract: CovenantContract, now: number): Lease | undefined {
  // One pass, not filter and sort: this runs on every strike, over up to max_leases leases.
  let best: Lease | undefined;
  let bestCost = 0;
  let serviceMs: number | undefined;
  const cost = (l: Lease) => addedBilledSeconds(l, now, (serviceMs ??= predictOption(need, 0, 1).e2eMs));
  for (const lease of leases) {
    if (!leaseFits(lease, need, contract, now)) continue;
    const leaseCost = lease.inFlight === 0 ? cost(lease) : 0;
    const first =
      best === undefined ||
      (lease.inFlight - best.inFlight ||
        (lease.inFlight === 0 ? leaseCost - bestCost : 0) ||
        best.lastUsedAt - lease.lastUsedAt ||
        lease.leaseId.localeCompare(best.leaseId)) < 0;
    if (first) {
      best = lease;
      bestCost = leaseCost;
    }
  }
  return best;
}

/**
 * Chooses from predictions, cheapest option first, each taken only when it keeps the SLOs and
 * is predicted to finish no later than a slice of the strike's own would (allocated now) plus the
 * covenant's `share_delay_ms` (none for a latency-sensitive strike):
 *   1. an idle lease: no allocation wait, nothing shared — faster and cheaper than allocating;
 *   2. a shared slot on a busy lease, the least busy;
 *   3. a slot on an allocation already on its way (a burst must not allocate once per strike);
 *   4. a new allocation, while under the covenant's lease limit.
 * When the lease limit is reached, a shared slot or a pending allocation is taken even if slower;
 * otherwise the strike waits for a slot.
 */
export function decideAcquire(
  leases: readonly Lease[],
  need: StrikeNeed,
  contract: CovenantContract,
  now: number,
  pending: PendingAllocations = NO_PENDING,
): AcquireDecision {
  const lease = bestWarmLease(leases, need, contract, now);
  if (lease && lease.inFlight === 0) return { kind: "reuse", leaseId: lease.leaseId };
  const allocateMs = need.allocateMs ?? DEFAULT_ALLOCATE_MS;
  const alone = predictOption(need, allocateMs, 1).e2eMs;
  const allowance = need.latencySensitive ? 0 : contract.lease.share_delay_ms;
  const inTime = (t: StrikeLatency) => t.e2eMs <= alone + allowance;
  if (lease && inTime(predictOption(need, 0, lease.inFlight + 1))) return { kind: "reuse", leaseId: lease.leaseId };
  // The allocating strike takes one slot of each pending lease; joiners fill the rest.
  const joinable = pending.forModel * (contract.lease.max_concurrency - 1) > pending.claims;
  const sharers = pending.forModel > 0 ? 1 + Math.ceil((pending.claims + 1) / pending.forModel) : 1;
  const joined = predictOption(need, allocateMs, sharers);
  if (joinable && meetsSlo(joined, contract.qos) && inTime(joined)) return { kind: "join" };
  if (leases.length + pending.total < contract.lease.max_leases) return { kind: "allocate" };
  if (lease) return { kind: "reuse", leaseId: lease.leaseId };
  if (joinable) return { kind: "join" };
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
