import type { CovenantContract } from "../schema";
import { estimateServiceMs } from "./estimate";
import type { Lease } from "./leases";
import type { ModelCatalogue, ModelSpec } from "./models";

/**
 * Recent demand for one model as an exponentially decayed arrival count: O(1) to update, and
 * count / tau is the arrival rate over roughly the last tau.
 */
export interface Demand {
  count: number;
  at: number;
  /**
   * Observed ÷ pessimistic service time of this model's recent strikes (1 until measured): what
   * turns the pessimistic estimate into an expected one for packing and warm-pool sizing.
   */
  serviceScale?: number;
  /** Moving averages of recent strikes' sizes, for service-time estimates. */
  promptTokens: number;
  maxTokens: number;
  /** Arrivals decayed over BURST_TAU_MS: the burst signal, seconds rather than minutes. */
  recent?: number;
}

export const DEMAND_TAU_MS = 60_000;
/** The window of the burst signal: short enough to see a burst begin and end within seconds. */
export const BURST_TAU_MS = 2_000;

export function decayedCount(d: Demand, now: number): number {
  return d.count * Math.exp(-Math.max(0, now - d.at) / DEMAND_TAU_MS);
}

export function observeArrival(d: Demand | undefined, now: number, promptTokens: number, maxTokens: number): Demand {
  if (!d) return { count: 1, recent: 1, at: now, promptTokens, maxTokens };
  const alpha = 0.2;
  return {
    ...d,
    count: decayedCount(d, now) + 1,
    recent: recentCount(d, now) + 1,
    at: now,
    promptTokens: d.promptTokens + alpha * (promptTokens - d.promptTokens),
    maxTokens: d.maxTokens + alpha * (maxTokens - d.maxTokens),
  };
}

function recentCount(d: Demand, now: number): number {
  return (d.recent ?? 0) * Math.exp(-Math.max(0, now - d.at) / BURST_TAU_MS);
}

/** Arrivals per second over roughly the last BURST_TAU_MS. */
export function burstRate(d: Demand, now: number): number {
  return (recentCount(d, now) * 1000) / BURST_TAU_MS;
}

/** Arrivals per second over roughly the last DEMAND_TAU_MS. */
export function arrivalRate(d: Demand, now: number): number {
  return (decayedCount(d, now) * 1000) / DEMAND_TAU_MS;
}

/** Headroom over the mean load, so ordinary bursts still find a warm lease. */
const WARM_HEADROOM = 1.5;

/**
 * Leases to keep for a model: Little's law gives the strikes in service at once (arrival rate ×
 * time in service), divided by what one lease serves concurrently, with headroom. At least one
 * while arrivals are expected within the idle timeout; at most the covenant's warm limit. None
 * for an isolated covenant (`lease.isolation: "per_strike"`): each of its strikes allocates its
 * own, so a warm lease would be paid for and never used.
 */
export function warmTarget(model: ModelSpec, d: Demand | undefined, contract: CovenantContract, now: number): number {
  if (!d || contract.lease.max_warm_leases === 0 || isolatedPerStrike(contract)) return 0;
  if (contract.lease.warm_ahead === "burst") return Math.max(burstTarget(model, d, contract, now), idleTarget(model, d, contract, now));
  return idleTarget(model, d, contract, now);
}

/** How far above the mean the burst pool reaches: a one-sided 95 % bound on Poisson arrivals in service. */
const BURST_Z = 1.65;

/**
 * Leases to hold during a burst, busy and idle: the strikes expected in service at once
 * (Little's law on the burst signal's rate, each on a slice of its own, as the acquire decision
 * prefers), plus enough spare that an arrival finds an idle lease 95 % of the time. None once the
 * burst signal fades below one arrival per expected service time, so the pool goes back with it.
 */
export function burstTarget(model: ModelSpec, d: Demand, contract: CovenantContract, now: number): number {
  const rate = burstRate(d, now);
  const serviceS = (estimateServiceMs(model, d.promptTokens, d.maxTokens) * (d.serviceScale ?? 1)) / 1000;
  const inService = rate * serviceS;
  if (inService < 0.5) return 0;
  return Math.min(contract.lease.max_warm_leases, Math.ceil(inService + BURST_Z * Math.sqrt(inService)));
}

/** The warm pool that bridges gaps between bursts within the idle timeout. */
function idleTarget(model: ModelSpec, d: Demand, contract: CovenantContract, now: number): number {
  // Nothing arrived for a whole idle timeout: the burst is over, whatever the decaying rate says.
  if (now - d.at >= contract.lease.idle_timeout_s * 1000) return 0;
  const rate = arrivalRate(d, now);
  if (rate * contract.lease.idle_timeout_s < 1) return 0;
  const inService = (rate * estimateServiceMs(model, d.promptTokens, d.maxTokens) * (d.serviceScale ?? 1)) / 1000;
  const leases = Math.ceil((inService * WARM_HEADROOM) / contract.lease.max_concurrency);
  return Math.min(contract.lease.max_warm_leases, Math.max(1, leases));
}

/**
 * Complete isolation: every strike of the covenant runs on an allocation of its own, never shared
 * with or reused by another strike, released when it ends; no warm leases are kept for it.
 */
export function isolatedPerStrike(contract: CovenantContract): boolean {
  return contract.lease.isolation === "per_strike";
}

/**
 * An isolated strike never reuses or joins anything: it allocates its own, while the covenant holds
 * fewer than `max_leases` allocations (its own in flight included); otherwise it waits for one to go.
 */
export function decideIsolated(held: number, contract: CovenantContract): { kind: "allocate" } | { kind: "wait"; reason: string } {
  return held < contract.lease.max_leases
    ? { kind: "allocate" }
    : { kind: "wait", reason: `all ${contract.lease.max_leases} allocations of the covenant are held by its isolated strikes` };
}

/** Hosted.AI bills allocations by the second (at least one). */
export const BILLING_STEP_MS = 1_000;
/** How long before a billed second ends a release is sent, so it lands inside that second. */
export const RELEASE_MARGIN_MS = 150;

/**
 * When an idle lease goes back: once its idle timeout has passed, at the end of the billed second
 * it is in — the rest of a second already paid for is free, so the lease stays available for it.
 */
export function idleReleaseAt(lease: Pick<Lease, "createdAt" | "lastUsedAt">, idleMs: number): number {
  const earliest = lease.lastUsedAt + idleMs;
  const paidUntil = lease.createdAt + Math.max(1, Math.ceil((earliest - lease.createdAt) / BILLING_STEP_MS)) * BILLING_STEP_MS;
  const at = paidUntil - RELEASE_MARGIN_MS;
  return at >= earliest ? at : at + BILLING_STEP_MS;
}

/** The soonest housekeeping re-plans a warm pool: the burst signal moves over seconds. */
export const REPLAN_MIN_MS = 500;

/** A lease this close to expiry takes no new strikes and, if still wanted, is replaced. */
export function renewMarginMs(contract: CovenantContract): number {
  return Math.min(120_000, Math.max(15_000, contract.lease.duration_s * 100));
}

export interface MaintenancePlan {
  /** Leases to stop giving new strikes to (released once their strikes finish). */
  drain: string[];
  /** Leases to release now: idle surplus, drained, or expired. */
  release: string[];
  /** New warm leases to allocate ahead of demand, per model. */
  allocate: { model: string; count: number }[];
  /** When the plan should be made again, or null when nothing is held or expected. */
  nextAt: number | null;
}

/**
 * The lease housekeeping a covenant's alarm performs: pure, from the leases, recent demand and
 * the clock. No lease is kept past its expiry, idle surplus goes back, and the warm pool is
 * topped up to what recent demand needs.
 */
export function planMaintenance(
  leases: readonly Lease[],
  demand: ReadonlyMap<string, Demand>,
  contract: CovenantContract,
  catalogue: ModelCatalogue,
  now: number,
): MaintenancePlan {
  const plan: MaintenancePlan = { drain: [], release: [], allocate: [], nextAt: null };
  const wake = (t: number) => (plan.nextAt = plan.nextAt === null ? t : Math.min(plan.nextAt, t));
  const margin = renewMarginMs(contract);
  const idleMs = contract.lease.idle_timeout_s * 1000;
  const active = new Map<string, Lease[]>();

  for (const lease of leases) {
    if (lease.expiresAt <= now) {
      plan.release.push(lease.leaseId);
      continue;
    }
    if (lease.state === "draining" || lease.expiresAt - now <= margin) {
      if (lease.state === "active") plan.drain.push(lease.leaseId);
      if (lease.inFlight === 0) plan.release.push(lease.leaseId);
      else wake(lease.expiresAt);
      continue;
    }
    wake(lease.expiresAt - margin);
    const list = active.get(lease.model) ?? [];
    list.push(lease);
    active.set(lease.model, list);
  }

  const models = new Set([...active.keys(), ...demand.keys()]);
  let held = leases.length - plan.release.length;
  for (const id of [...models].sort()) {
    const model = catalogue.get(id);
    if (!model || !contract.models.includes(id)) continue;
    const target = warmTarget(model, demand.get(id), contract, now);
    // Idle surplus beyond the target goes back, longest idle first.
    const list = (active.get(id) ?? []).sort((a, b) => a.lastUsedAt - b.lastUsedAt || a.leaseId.localeCompare(b.leaseId));
    let keep = list.length;
    for (const lease of list) {
      if (lease.inFlight > 0) continue;
      const releaseAt = idleReleaseAt(lease, idleMs);
      if (keep > target && now >= releaseAt) {
        plan.release.push(lease.leaseId);
        keep--;
        held--;
      } else if (now < releaseAt) {
        wake(releaseAt);
      }
    }
    const missing = Math.min(target - keep, contract.lease.max_leases - held);
    if (missing > 0) {
      plan.allocate.push({ model: id, count: missing });
      held += missing;
    }
    const d = demand.get(id);
    // Re-plan as demand decays, so the warm pool shrinks without waiting for a strike.
    if (d && target > 0) wake(now + Math.max(REPLAN_MIN_MS, Math.min(DEMAND_TAU_MS, idleMs)));
  }
  return plan;
}

/** Learns how the model's real service times compare with the pessimistic estimate (an EWMA). */
export function observeService(d: Demand | undefined, estimateMs: number, observedMs: number): Demand | undefined {
  if (!d || estimateMs <= 0 || observedMs <= 0) return d;
  const ratio = Math.min(4, Math.max(0.01, observedMs / estimateMs));
  return { ...d, serviceScale: d.serviceScale === undefined ? ratio : d.serviceScale + 0.2 * (ratio - d.serviceScale) };
}
