import {
  holdCostUsd,
  leaseBusyMs,
  LeaseBook,
  leaseFromGrant,
  sliceRequirements,
  type AcquireDecision,
  type AcquireRequest,
  type Demand,
  type ModelSpec,
  type PendingAllocations,
  type PoolSnapshot,
} from "../policy";
import { UpstreamError } from "../providers/errors";
import { allocationMetadata, isAllocationGone, isCapacityExhausted, ownedBy, type HostedAiClient, type WireAllocation } from "../providers/hostedai";
import type { CovenantContract } from "../schema";
import type { PoolCache } from "./pool-cache";
import type { Signal } from "./signal";
import type { CovenantStore, StoredLease } from "./storage";

/** A failed release is tried again after this long, doubling, capped. */
const RELEASE_RETRY_BASE_MS = 1_000;
const RELEASE_RETRY_MAX_MS = 60_000;

export interface AllocationOwner {
  tenant: string;
  covenantId: string;
  objectName: string;
}

/** The model an orphan allocation's charge is booked under: its strike never said. */
export const ORPHAN_MODEL = "unrecorded";

/**
 * The covenant's leases: kept in memory for the hot path and written through to SQLite whenever
 * one is created, changes state or goes, so a restarted object knows everything it holds.
 */
export class LeaseManager {
  /** The bookkeeping, shared with the simulator (src/policy/lease-book.ts); this class adds the I/O. */
  private readonly book: LeaseBook<StoredLease>;

  constructor(
    private readonly client: HostedAiClient,
    private readonly store: CovenantStore,
    private readonly pools: PoolCache,
    /** Notified whenever a lease slot may have been freed or a pending allocation landed. */
    readonly freed: Signal,
    /** Notified (one waiter at a time) when this covenant gives capacity back upstream. */
    readonly capacityReturned: Signal,
    private readonly onDeferredRelease: () => Promise<void>,
    /** Called whenever a lease's cost is booked, so spend totals stay current. */
    private readonly onCharge: () => void,
    /**
     * Called when an allocation request got no answer (timeout, connection lost): the upstream may
     * have granted it anyway, so the object must reconcile soon or it would leak.
     */
    private readonly onAmbiguousAllocation: () => Promise<void>,
    /** Hears every lease that goes (released or lost): busy vs held time for GPU utilisation metrics. */
    private readonly onGone: (e: { pool: string; busyMs: number; heldMs: number }) => void = () => {},
  ) {
    this.book = new LeaseBook(store.leases());
  }

  /** Recent arrivals per model: what the warm pool is sized from. Rebuilt from traffic after a restart. */
  get demand(): ReadonlyMap<string, Demand> {
    return this.book.demand;
  }

  observe(model: string, promptTokens: number, maxTokens: number, now: number): void {
    this.book.observe(model, promptTokens, maxTokens, now);
  }

  /** Feeds a measured inference time back into the model's expected service time. */
  observeService(model: string, estimateMs: number, observedMs: number): void {
    this.book.observeService(model, estimateMs, observedMs);
  }

  /** Whether an arrival should wake housekeeping to prepare leases ahead: see LeaseBook.wantsWarmLeases. */
  wantsWarmLeases(model: ModelSpec, contract: CovenantContract): boolean {
    return this.book.wantsWarmLeases(model, contract, Date.now());
  }

  /** Reuse (its slot taken), join, allocate or wait: see LeaseBook.acquire. */
  acquire(r: AcquireRequest, contract: CovenantContract): AcquireDecision {
    return this.book.acquire(r, contract, Date.now());
  }

  pendingFor(poolId: string, model: string, preemptible = false): PendingAllocations {
    return this.book.pendingFor(poolId, model, preemptible);
  }

  /** Marks a strike as waiting for a pending allocation; call the result when done waiting. */
  claimPending(poolId: string, model: string, preemptible = false): () => void {
    return this.book.claimPending(poolId, model, preemptible);
  }

  list(): StoredLease[] {
    return this.book.list();
  }

  get(leaseId: string): StoredLease | undefined {
    return this.book.get(leaseId);
  }

  /** Pool listing for placement decisions (cached). */
  poolSnapshot(): Promise<PoolSnapshot[]> {
    return this.pools.get(Date.now());
  }

  /**
   * Allocates a new lease for `model` on one pool. While the request is out, strikes for the same
   * pool, model and kind can join it instead of allocating too — unless it is `isolated`: then it
   * is one strike's alone (`lease.isolation: "per_strike"`), born draining so that no other strike
   * is ever started on it, and released when that strike ends.
   */
  async allocate(
    poolId: string,
    contract: CovenantContract,
    model: ModelSpec,
    preemptible: boolean,
    owner: AllocationOwner,
    purpose: string,
    timeoutMs?: number,
    /** Start the caller's strike on the new lease before anyone else can take its slots. */
    startForCaller = false,
    isolated = false,
  ): Promise<StoredLease> {
    void purpose; // What the allocation is for shows in the trace; the upstream's metadata holds only the document's keys.
    const answered = this.book.beginAllocation(poolId, model.id, preemptible, isolated);
    const asked = Date.now();
    try {
      const a = await this.client.allocate(
        {
          pool_id: poolId,
          requirements: sliceRequirements(model, contract),
          duration_seconds: contract.lease.duration_s,
          preemptible,
          metadata: allocationMetadata(owner.tenant, owner.covenantId),
        },
        timeoutMs,
      );
      const now = Date.now();
      this.book.observeAllocation(poolId, now - asked);
      const grant = {
        allocationId: a.allocation_id,
        poolId: a.pool_id,
        vramMb: a.vram_mb,
        tflops: a.tflops,
        pricePerHour: a.price_per_hour,
        preemptible: a.preemptible,
        durationS: a.duration_seconds,
        ...(Date.parse(a.expires_at) > 0 && { expiresAt: Date.parse(a.expires_at) }),
      };
      // An isolated lease is stored draining, which keeps it one strike's across a restart.
      const lease: StoredLease = { ...leaseFromGrant(grant, model.id, now, isolated), attributedUsd: 0 };
      // Written before any further I/O, so no later failure can leak the allocation.
      this.store.saveLease(lease);
      return this.book.add(lease, startForCaller, now);
    } catch (err) {
      if (err instanceof UpstreamError && err.status === 0) await this.onAmbiguousAllocation();
      if (isCapacityExhausted(err)) this.pools.invalidate();
      throw err;
    } finally {
      answered();
      this.freed.notify();
    }
  }

  start(leaseId: string): StoredLease {
    return this.book.start(leaseId, Date.now());
  }

  /**
   * A strike ended on the lease; `chargedUsd` is the share of the lease's cost it was charged.
   * Only memory changes here: the hot path writes nothing for a warm lease but the strike's own
   * ledger row. Busy time and use are persisted when the lease changes state, by housekeeping,
   * and at release.
   */
  finish(leaseId: string, chargedUsd: number): StoredLease | undefined {
    const lease = this.book.finish(leaseId, Date.now(), (before, after) => ({ ...after, attributedUsd: before.attributedUsd + chargedUsd }));
    // One slot freed: one waiter is woken for it (and hands it on if it cannot use it).
    if (lease) this.freed.notifyOne();
    return lease;
  }

  /** Writes every lease's use so far (busy time, strikes served, last use) to SQLite. */
  persistUse(): void {
    for (const lease of this.book.list()) this.store.saveLease(lease);
  }

  drain(leaseId: string): void {
    const drained = this.book.drain(leaseId);
    if (drained) this.store.saveLease(drained);
  }

  /**
   * Gives a lease back. Its cost beyond what strikes were charged is booked as a lease charge —
   * unless `chargedToStrike`: then the strike that held it alone pays the whole bill, which is
   * returned for it (what the upstream billed on release, or an estimate if the release failed),
   * and the lease charge books the billed seconds at no further cost. A release that fails is
   * left to the alarm, so the allocation is never leaked.
   */
  async release(leaseId: string, opts: { chargedToStrike?: boolean } = {}): Promise<{ billedSeconds: number; costUsd: number } | undefined> {
    const lease = this.book.remove(leaseId);
    if (!lease) return undefined;
    let bill: { billedSeconds: number; costUsd: number };
    try {
      const receipt = await this.client.release(lease.allocationId);
      bill = { billedSeconds: receipt.billed_seconds, costUsd: receipt.cost_usd };
    } catch (err) {
      bill = this.estimate(lease);
      if (!isAllocationGone(err)) {
        this.store.addPendingRelease(lease.allocationId, lease.leaseId, Date.now() + RELEASE_RETRY_BASE_MS);
        await this.onDeferredRelease();
      }
    }
    this.bookCharge(opts.chargedToStrike ? { ...lease, attributedUsd: bill.costUsd } : lease, bill.billedSeconds, bill.costUsd);
    this.store.deleteLease(leaseId);
    this.reportGone(lease);
    this.freed.notify();
    this.capacityReturned.notifyOne();
    return bill;
  }

  /**
   * The upstream says the allocation is gone (expired, preempted, released by someone else):
   * forget it. Its bill is the upstream's final record of it, which a release of an ended
   * allocation repeats; only when that cannot be had is it estimated.
   */
  async drop(leaseId: string): Promise<void> {
    const lease = this.book.remove(leaseId);
    if (!lease) return;
    let bill: { billedSeconds: number; costUsd: number };
    try {
      const final = await this.client.release(lease.allocationId);
      bill = { billedSeconds: final.billed_seconds, costUsd: final.cost_usd };
    } catch {
      bill = this.estimate(lease);
    }
    this.bookCharge(lease, bill.billedSeconds, bill.costUsd);
    this.store.deleteLease(leaseId);
    this.reportGone(lease);
    this.freed.notify();
    this.capacityReturned.notifyOne();
  }

  /** Retries releases that failed before. Returns nothing; reschedules what still fails. */
  async retryPendingReleases(now: number): Promise<void> {
    for (const p of this.store.pendingReleases()) {
      if (p.due_at > now) continue;
      try {
        const receipt = await this.client.release(p.allocation_id);
        // The lease was booked at an estimate when its release failed: now the upstream's bill is known.
        if (p.lease_id !== null) {
          this.store.settleLeaseCharge(p.lease_id, receipt.billed_seconds, receipt.cost_usd);
          this.onCharge();
        } else if (p.pool_id !== null) {
          this.bookOrphan(p.allocation_id, p.pool_id, receipt.billed_seconds, receipt.cost_usd);
        }
      } catch (err) {
        if (!isAllocationGone(err)) {
          const delay = Math.min(RELEASE_RETRY_MAX_MS, RELEASE_RETRY_BASE_MS * 2 ** (p.attempts + 1));
          this.store.addPendingRelease(p.allocation_id, p.lease_id, now + delay, p.attempts + 1, p.pool_id);
          continue;
        }
      }
      this.store.deletePendingRelease(p.allocation_id);
    }
  }

  /**
   * Allocations the upstream holds for this covenant (its metadata's `tenant_id` and
   * `workload_id`) that no lease knows of are released; leases whose allocation the upstream no
   * longer lists at all are dropped. Returns null (try later) while an allocation is on its way,
   * since its grant could otherwise be mistaken for an orphan.
   */
  async reconcile(owner: AllocationOwner): Promise<{ orphansReleased: number; leasesDropped: number } | null> {
    if (this.pendingFor("", "").total > 0) return null;
    const upstream = await this.client.listAllocations();
    if (this.pendingFor("", "").total > 0) return null;
    const active = upstream.filter((a) => a.status === "active");
    const mine = active.filter((a) => ownedBy(a.metadata, owner.tenant, owner.covenantId) || taggedBefore(a, owner));
    const known = new Set(this.list().map((l) => l.allocationId));
    const pending = new Set(this.store.pendingReleases().map((p) => p.allocation_id));
    let orphansReleased = 0;
    for (const a of mine) {
      if (known.has(a.allocation_id) || pending.has(a.allocation_id)) continue;
      // Allocated by a strike that died before it could record the lease.
      this.store.addPendingRelease(a.allocation_id, null, 0, 0, a.pool_id);
      orphansReleased++;
    }
    const live = new Set(active.map((a) => a.allocation_id));
    // Each drop forgets its lease before it asks the upstream for the bill, so all go at once.
    const gone = this.list().filter((lease) => !live.has(lease.allocationId) && lease.inFlight === 0);
    await Promise.all(gone.map((lease) => this.drop(lease.leaseId)));
    const leasesDropped = gone.length;
    await this.retryPendingReleases(Date.now());
    return { orphansReleased, leasesDropped };
  }

  private reportGone(lease: StoredLease): void {
    const now = Date.now();
    this.onGone({ pool: lease.poolId, busyMs: leaseBusyMs(lease, now), heldMs: now - lease.createdAt });
  }

  /**
   * An orphan's bill: Hosted.AI charged the covenant for an allocation whose strike died before it
   * recorded a lease. Which model it was for was never recorded; the money is booked all the same.
   */
  private bookOrphan(allocationId: string, poolId: string, billedSeconds: number, costUsd: number): void {
    this.store.recordLeaseCharge({
      lease_id: `orphan:${allocationId}`,
      allocation_id: allocationId,
      model: ORPHAN_MODEL,
      pool_id: poolId,
      billed_seconds: billedSeconds,
      cost_usd: costUsd - this.store.chargedTo(allocationId),
      at: Date.now(),
    });
    this.onCharge();
  }

  private bookCharge(lease: StoredLease, billedSeconds: number, costUsd: number): void {
    this.store.recordLeaseCharge({
      lease_id: lease.leaseId,
      allocation_id: lease.allocationId,
      model: lease.model,
      pool_id: lease.poolId,
      billed_seconds: billedSeconds,
      cost_usd: costUsd - lease.attributedUsd,
      at: Date.now(),
    });
    this.onCharge();
  }

  /** What holding the lease cost, as far as this side can tell (when the upstream's receipt is missing). */
  private estimate(lease: StoredLease): { billedSeconds: number; costUsd: number } {
    const heldMs = Math.max(1000, Math.min(Date.now(), lease.expiresAt) - lease.createdAt);
    return { billedSeconds: heldMs / 1000, costUsd: holdCostUsd(lease.pricePerHour, heldMs) };
  }
}

/**
 * Allocations made before allocations carried only the document's metadata keys were tagged with
 * the covenant object's name: still recognised, so an upgrade cannot orphan them.
 */
function taggedBefore(a: WireAllocation, owner: AllocationOwner): boolean {
  return a.metadata?.covenant_object === owner.objectName;
}
