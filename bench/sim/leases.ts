/**
 * The covenant object's LeaseManager (src/covenant/lease-manager.ts) and PoolCache in virtual
 * time: the same LeaseBook (src/policy/lease-book.ts: leases, recent demand, allocations on their
 * way and the strikes waiting for them, measured allocation times, the acquire decision) with the
 * emulator's HTTP API replaced by calls on the simulated cluster. Persistence, ledger and
 * reconciliation have no counterpart here: nothing in the simulation crashes or loses a reply.
 */
import {
  LeaseBook,
  leaseFromGrant,
  sliceRequirements,
  type AcquireDecision,
  type AcquireRequest,
  type Demand,
  type Lease,
  type ModelSpec,
  type PendingAllocations,
  type PoolSnapshot,
} from "../../src/policy";
import { toPoolSnapshot } from "../../src/providers/hostedai/assumptions";
import type { CovenantContract } from "../../src/schema";
import type { SimCluster } from "./cluster";
import type { EventLoop } from "./engine";
import { SimSignal } from "./signal";

/** As src/covenant/pool-cache.ts: how long a pool listing is trusted. */
export const POOL_TTL_MS = 10_000;

/** An upstream failure as the object's shell sees it (an UpstreamError's status, type, Retry-After). */
export interface Failure {
  ok: false;
  status: number;
  type: string;
  retryAfterS?: number;
}

export type AllocateResult = { ok: true; lease: Lease } | Failure;

/** The emulator's answers that mean "this allocation is gone" (isAllocationGone). */
export const GONE_STATUSES: readonly number[] = [404, 409, 410];

export class SimLeaseManager {
  readonly book = new LeaseBook<Lease>();
  readonly freed: SimSignal;
  private pools: { snapshot: PoolSnapshot[]; fetchedAt: number } | undefined;
  /** Highest number of strikes seen at once on one lease (the covenant's limit should bound it). */
  peakInFlight = 0;

  constructor(
    private readonly loop: EventLoop,
    private readonly cluster: SimCluster,
    private readonly owner: string,
    /** Round trip of one call from the object to the upstream, real ms (0: calls take no time). */
    readonly callMs = 0,
  ) {
    this.freed = new SimSignal(loop);
  }

  get demand(): ReadonlyMap<string, Demand> {
    return this.book.demand;
  }

  observe(model: string, promptTokens: number, maxTokens: number, now: number): void {
    this.book.observe(model, promptTokens, maxTokens, now);
  }

  /** As the covenant object does: measured inference times calibrate the expected service time. */
  observeService(model: string, estimateMs: number, observedMs: number): void {
    this.book.observeService(model, estimateMs, observedMs);
  }

  /** As the object: reuse (its slot taken), join, allocate or wait. */
  acquire(r: AcquireRequest, contract: CovenantContract): AcquireDecision {
    const decision = this.book.acquire(r, contract, this.loop.now);
    if (decision.kind === "reuse") this.peakInFlight = Math.max(this.peakInFlight, this.book.get(decision.leaseId)!.inFlight);
    return decision;
  }

  pendingFor(poolId: string, model: string, preemptible = false): PendingAllocations {
    return this.book.pendingFor(poolId, model, preemptible);
  }

  claimPending(poolId: string, model: string, preemptible = false): () => void {
    return this.book.claimPending(poolId, model, preemptible);
  }

  list(): Lease[] {
    return this.book.list();
  }

  get(leaseId: string): Lease | undefined {
    return this.book.get(leaseId);
  }

  /**
   * Requests an allocation for `model` on one pool; while it is out, strikes for the same pool and
   * model may join it. `done` runs after the waiters this wakes, as the object's caller resumes
   * after them.
   */
  /** As the object: with `startForCaller`, the allocating strike takes its slot before anyone is woken. */
  allocate(
    poolId: string,
    contract: CovenantContract,
    model: ModelSpec,
    preemptible: boolean,
    purpose: string,
    done: (r: AllocateResult) => void,
    startForCaller = false,
  ): void {
    const answered = this.book.beginAllocation(poolId, model.id, preemptible, false);
    const asked = this.loop.now;
    const finish = (r: AllocateResult) => {
      answered();
      this.freed.notify();
      this.loop.after(0, () => done(r));
    };
    const half = this.callMs / 2;
    this.loop.call(half, () => {
      const granted = this.cluster.allocate(
        this.owner,
        { pool_id: poolId, requirements: sliceRequirements(model, contract), duration_seconds: contract.lease.duration_s, preemptible, metadata: { purpose } },
        this.loop.now,
      );
      if (!granted.ok) {
        const { error } = granted;
        const failure: Failure = { ok: false, status: error.status, type: error.type, ...(error.retry_after_seconds !== undefined && { retryAfterS: error.retry_after_seconds }) };
        return this.loop.call(half, () => {
          if (error.status === 503 && error.type === "capacity_exhausted") this.pools = undefined;
          finish(failure);
        });
      }
      const { row, provisioningMs } = granted.value;
      // The answer comes once the slice is provisioned; the upstream bills from the grant.
      this.loop.call(provisioningMs + half, () => {
        const now = this.loop.now;
        this.book.observeAllocation(poolId, now - asked);
        // As the object; expiry on the emulated clock, as the emulator states it.
        const grant = {
          allocationId: row.id,
          poolId: row.pool_id,
          vramMb: row.vram_mb,
          tflops: row.tflops,
          pricePerHour: row.price_per_hour,
          preemptible: row.preemptible === 1,
          durationS: row.duration_seconds,
          expiresAt: row.expires_at,
        };
        const lease = leaseFromGrant(grant, model.id, now);
        const held = this.book.add(lease, startForCaller, now);
        if (startForCaller) this.peakInFlight = Math.max(this.peakInFlight, held.inFlight);
        finish({ ok: true, lease: held });
      });
    });
  }

  finish(leaseId: string): Lease | undefined {
    const lease = this.book.finish(leaseId, this.loop.now);
    if (lease) this.freed.notify();
    return lease;
  }

  drain(leaseId: string): void {
    this.book.drain(leaseId);
  }

  /** Forgets the lease at once, as the object does, and tells the upstream; `done` when it answered. */
  release(leaseId: string, done: () => void = () => {}): void {
    const lease = this.book.remove(leaseId);
    if (!lease) return done();
    this.loop.call(this.callMs / 2, () => {
      this.cluster.release(lease.allocationId, this.loop.now);
      this.loop.call(this.callMs / 2, () => {
        this.freed.notify();
        done();
      });
    });
  }

  /** The upstream says the allocation is gone: forget it without a release. */
  drop(leaseId: string): void {
    if (!this.book.remove(leaseId)) return;
    this.freed.notify();
  }

  /** The pool listing, as the object's PoolCache serves it. */
  poolSnapshot(): PoolSnapshot[] {
    const now = this.loop.now;
    if (this.pools && now - this.pools.fetchedAt < POOL_TTL_MS) return this.pools.snapshot;
    const snapshot = this.cluster.listPools(now).map(toPoolSnapshot);
    this.pools = { snapshot, fetchedAt: now };
    return snapshot;
  }
}
