import type { CovenantContract } from "../schema";
import { decideAcquire, finishOnLease, startOnLease, DEFAULT_ALLOCATE_MS, type AcquireDecision, type Lease, type PendingAllocations, type StrikeNeed } from "./leases";
import type { ModelSpec } from "./models";
import { observeArrival, observeService, idleReleaseAt, decideIsolated, isolatedPerStrike, warmTarget, type Demand } from "./warm";

/** How fast the measured allocation time follows new measurements (an EWMA). */
const ALLOCATE_EWMA = 0.2;

/** What a strike needs from a pool, as the object's attempt and the simulator's both describe it. */
export interface AcquireRequest {
  model: ModelSpec;
  poolId: string;
  /** Whether the strike may run on a preemptible slice: it never reuses or waits for one otherwise. */
  preemptible: boolean;
  promptTokens: number;
  maxTokens: number;
  /** The classifier's estimate of the answer's tokens, when there is one. */
  outputTokens?: number;
  latencySensitive: boolean;
  /** A one-off allocation (the seed rule): never reuses, never joins. */
  ephemeral: boolean;
}

/**
 * A covenant's lease bookkeeping, without I/O: the leases held, recent demand per model, the
 * allocations on their way (per pool, model and kind) with the strikes waiting to share them, and
 * how long allocations take per pool. The covenant object (src/covenant/lease-manager.ts) wraps it
 * with the upstream calls and SQLite; the simulator (bench/sim) with the simulated cluster, so both
 * run the same bookkeeping and the same decisions.
 */
export class LeaseBook<L extends Lease = Lease> {
  readonly leases = new Map<string, L>();
  /** Recent arrivals per model: what the warm pool is sized from. Rebuilt from traffic after a restart. */
  readonly demand = new Map<string, Demand>();
  /** Allocations on their way that strikes may share, and strikes waiting to share them. */
  private readonly pending = new Map<string, { allocations: number; claims: number }>();
  /** Allocations on their way for one isolated strike each: never shared, so never joined. */
  private isolatedPending = 0;
  /** Measured ms from asking for an allocation to holding it, per pool. */
  private readonly allocateMs = new Map<string, number>();

  constructor(leases: Iterable<L> = []) {
    for (const lease of leases) this.leases.set(lease.leaseId, lease);
  }

  observe(model: string, promptTokens: number, maxTokens: number, now: number): void {
    this.demand.set(model, observeArrival(this.demand.get(model), now, promptTokens, maxTokens));
  }

  /** Feeds a measured inference time back into the model's expected service time. */
  observeService(model: string, estimateMs: number, observedMs: number): void {
    const next = observeService(this.demand.get(model), estimateMs, observedMs);
    if (next) this.demand.set(model, next);
  }

  /** Feeds a measured allocation time (request to grant) into the pool's prediction. */
  observeAllocation(poolId: string, ms: number): void {
    if (!(ms >= 0)) return;
    const prior = this.allocateMs.get(poolId);
    this.allocateMs.set(poolId, prior === undefined ? ms : prior + ALLOCATE_EWMA * (ms - prior));
  }

  /** The strike's need with what was measured: the model's service times, the pool's allocation time. */
  needFor(r: AcquireRequest): StrikeNeed {
    const outputTokens = r.outputTokens !== undefined ? Math.max(1, Math.min(r.maxTokens, r.outputTokens)) : undefined;
    return {
      model: r.model,
      promptTokens: r.promptTokens,
      maxTokens: r.maxTokens,
      latencySensitive: r.latencySensitive,
      serviceScale: this.demand.get(r.model.id)?.serviceScale,
      allocateMs: this.allocateMs.get(r.poolId) ?? DEFAULT_ALLOCATE_MS,
      ...(outputTokens !== undefined && { outputTokens }),
    };
  }

  /**
   * What the strike does next on the pool: reuse a lease (its slot is taken at once), join an
   * allocation on its way, allocate, or wait. The seed rule allocates every time; an isolated
   * covenant allocates while under its lease limit.
   */
  acquire(r: AcquireRequest, contract: CovenantContract, now: number): AcquireDecision {
    if (isolatedPerStrike(contract)) return decideIsolated(this.leases.size + this.pendingFor(r.poolId, r.model.id).total, contract);
    if (r.ephemeral) return { kind: "allocate" };
    const onPool = this.list().filter((l) => l.poolId === r.poolId && (r.preemptible || !l.preemptible));
    const decision = decideAcquire(onPool, this.needFor(r), contract, now, this.pendingFor(r.poolId, r.model.id, r.preemptible));
    if (decision.kind === "reuse") this.start(decision.leaseId, now);
    return decision;
  }

  /**
   * Allocations on their way for this pool and model (of this kind: a strike that must not run
   * preemptible never waits for a preemptible one), and in all.
   */
  pendingFor(poolId: string, model: string, preemptible = false): PendingAllocations {
    let total = this.isolatedPending;
    for (const p of this.pending.values()) total += p.allocations;
    const mine = this.pending.get(pendingKey(poolId, model, preemptible));
    return { forModel: mine?.allocations ?? 0, claims: mine?.claims ?? 0, total };
  }

  /** Marks a strike as waiting for a pending allocation; call the result when done waiting. */
  claimPending(poolId: string, model: string, preemptible = false): () => void {
    const p = this.pending.get(pendingKey(poolId, model, preemptible));
    if (!p) return () => {};
    p.claims++;
    return () => {
      p.claims--;
    };
  }

  /** An allocation request goes out; call the result when it was answered (granted or not). */
  beginAllocation(poolId: string, model: string, preemptible: boolean, isolated: boolean): () => void {
    if (isolated) {
      this.isolatedPending++;
      return () => {
        this.isolatedPending--;
      };
    }
    const key = pendingKey(poolId, model, preemptible);
    const p = this.pending.get(key) ?? { allocations: 0, claims: 0 };
    this.pending.set(key, p);
    p.allocations++;
    return () => {
      p.allocations--;
      if (p.allocations === 0 && p.claims === 0) this.pending.delete(key);
    };
  }

  /** A granted allocation becomes a lease; with `startForCaller` its first slot is the caller's before anyone else can take it. */
  add(lease: L, startForCaller: boolean, now: number): L {
    const held = startForCaller ? startOnLease(lease, now) : lease;
    this.leases.set(lease.leaseId, held);
    return held;
  }

  start(leaseId: string, now: number): L {
    const lease = startOnLease(this.leases.get(leaseId)!, now);
    this.leases.set(leaseId, lease);
    return lease;
  }

  /** A strike on the lease ended; `also` adds what the caller keeps on its leases (the object: the cost attributed). */
  finish(leaseId: string, now: number, also: (before: L, after: L) => L = (_, after) => after): L | undefined {
    const current = this.leases.get(leaseId);
    if (!current) return undefined;
    const lease = also(current, finishOnLease(current, now));
    this.leases.set(leaseId, lease);
    return lease;
  }

  /** The lease takes no new strikes from now on; returns it when that is a change. */
  drain(leaseId: string): L | undefined {
    const lease = this.leases.get(leaseId);
    if (!lease || lease.state === "draining") return undefined;
    const drained = { ...lease, state: "draining" as const };
    this.leases.set(leaseId, drained);
    return drained;
  }

  /** Forgets the lease (released or lost); returns it. */
  remove(leaseId: string): L | undefined {
    const lease = this.leases.get(leaseId);
    this.leases.delete(leaseId);
    return lease;
  }

  /**
   * Whether the warm pool wants more leases of the model than are held or on their way: an
   * arrival that starts a burst wakes housekeeping at once instead of at its next planned run.
   */
  wantsWarmLeases(model: ModelSpec, contract: CovenantContract, now: number): boolean {
    if (contract.lease.warm_ahead === "off") return false;
    const target = warmTarget(model, this.demand.get(model.id), contract, now);
    if (target === 0) return false;
    let held = 0;
    for (const l of this.leases.values()) if (l.model === model.id && l.state === "active") held++;
    for (const [key, p] of this.pending) if (key.split("/")[1] === model.id) held += p.allocations;
    return held < target;
  }

  list(): L[] {
    return [...this.leases.values()];
  }

  get(leaseId: string): L | undefined {
    return this.leases.get(leaseId);
  }
}

/** Whether a lease housekeeping planned to release is still there with no strike on it. */
export function stillIdle(lease: Lease | undefined): lease is Lease {
  return lease !== undefined && lease.inFlight === 0;
}

/** What the upstream granted, as both the object's connector and the simulated cluster report it. */
export interface Grant {
  allocationId: string;
  poolId: string;
  vramMb: number;
  tflops: number;
  pricePerHour: number;
  preemptible: boolean;
  durationS: number;
  /** The upstream's stated expiry on this side's clock, if it gave one. */
  expiresAt?: number;
}

/**
 * A new lease on a granted allocation. The upstream's clock may run ahead of ours (an emulator's
 * time scale, skew): the granted duration counts from now, or the stated expiry if that is sooner.
 * An isolated allocation (one strike's alone) is born draining: it takes no other strike and goes
 * once idle.
 */
export function leaseFromGrant(g: Grant, model: string, now: number, isolated = false): Lease {
  return {
    leaseId: `lease_${g.allocationId}`,
    allocationId: g.allocationId,
    poolId: g.poolId,
    model,
    vramMb: g.vramMb,
    tflops: g.tflops,
    pricePerHour: g.pricePerHour,
    preemptible: g.preemptible,
    createdAt: now,
    expiresAt: Math.min(now + g.durationS * 1000, g.expiresAt ?? Infinity),
    state: isolated ? "draining" : "active",
    inFlight: 0,
    strikesServed: 0,
    busyMs: 0,
    busySince: null,
    lastUsedAt: now,
  };
}

/**
 * When housekeeping should run after a strike gave its lease back: the soonest any held lease
 * can go back (the end of its billed second once its idle timeout passed), never in the past.
 */
export function wakeAfterStrike(leases: readonly Lease[], contract: CovenantContract, now: number): number {
  const idleMs = contract.lease.idle_timeout_s * 1000;
  return Math.max(now, Math.min(now + 60_000, ...leases.map((l) => idleReleaseAt(l, idleMs))));
}

function pendingKey(poolId: string, model: string, preemptible: boolean): string {
  return `${poolId}/${model}/${preemptible ? "preemptible" : "on-demand"}`;
}
