/**
 * CovenantObject (src/covenant/object.ts) in virtual time: strikes go to the runner, and the one
 * alarm runs lease housekeeping with the policy's planMaintenance: drain near expiry, release
 * idle surplus, top up the warm pool. The alarm is moved exactly when the object moves it.
 */
import { allocatePreemptible, candidatePools, planMaintenance, stillIdle, wakeAfterStrike, type ModelCatalogue, type PlacementPolicy } from "../../src/policy";
import type { CovenantContract } from "../../src/schema";
import type { SimCluster } from "./cluster";
import type { EventLoop, Timer } from "./engine";
import { SimLeaseManager } from "./leases";
import { SimStrikeRunner, type SimStrike } from "./strikes";

export interface CovenantDeps {
  loop: EventLoop;
  cluster: SimCluster;
  contract: CovenantContract;
  catalogue: ModelCatalogue;
  random: () => number;
  /**
   * Whether a seed-policy covenant still runs warm-pool housekeeping, as the object does today
   * (its strikes never use those leases). Off gives the seed rule as specified.
   */
  seedMaintenance: boolean;
  /** Round trip of one call to the upstream, real ms. */
  callMs: number;
}

/**
 * An alarm set at or before "now" fires at once in the runtime, and fires again if its handler
 * sets it in the past again: a busy loop. The simulator samples such a loop at this interval
 * (and counts it) instead of spinning at one virtual instant.
 */
export const PAST_ALARM_DELAY_MS = 100;

export class SimCovenant {
  readonly leases: SimLeaseManager;
  readonly runner: SimStrikeRunner;
  readonly policy: PlacementPolicy;
  /** Times the alarm ran housekeeping. */
  maintenanceRuns = 0;
  /** Times housekeeping asked to be woken again at or before the moment it ran. */
  pastAlarms = 0;
  private contract: CovenantContract | undefined;
  private alarmAt: number | null = null;
  private alarmTimer: Timer | undefined;
  private maintaining = false;
  private alarmDeferred = false;

  constructor(private readonly deps: CovenantDeps) {
    this.contract = deps.contract;
    this.policy = deps.contract.policy;
    this.leases = new SimLeaseManager(deps.loop, deps.cluster, `covenant:${deps.contract.id}`, deps.callMs);
    this.runner = new SimStrikeRunner({
      loop: deps.loop,
      cluster: deps.cluster,
      leases: this.leases,
      contract: () => deps.contract,
      policy: this.policy,
      random: deps.random,
      afterStrike: (leaseUsed) => this.afterStrike(leaseUsed),
    });
  }

  strike(s: SimStrike): void {
    this.runner.run(s);
    // As the object: an arrival that starts a burst wakes housekeeping to prepare leases ahead.
    const contract = this.contract;
    if (contract && this.policy !== "seed" && this.leases.book.wantsWarmLeases(s.model, contract, this.deps.loop.now)) this.wakeAt(this.deps.loop.now);
  }

  /** As the object's retire: every lease released in turn, the contract gone; refused while strikes run. */
  retire(): boolean {
    const held = this.leases.list();
    if (held.some((l) => l.inFlight > 0)) return false;
    const next = (i: number): void => {
      const lease = held[i];
      if (lease) this.leases.release(lease.leaseId, () => next(i + 1));
      else this.contract = undefined;
    };
    next(0);
    return true;
  }

  private afterStrike(leaseUsed: boolean): void {
    const contract = this.contract;
    if (!contract || !leaseUsed) return;
    this.wakeAt(wakeAfterStrike(this.leases.list(), contract, this.deps.loop.now));
  }

  private wakeAt(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.deps.loop.cancel(this.alarmTimer);
    this.alarmTimer = this.deps.loop.at(at, () => this.alarm());
  }

  /** The runtime never runs two alarm handlers at once: one due during housekeeping runs after it. */
  private alarm(): void {
    if (this.maintaining) {
      this.alarmDeferred = true;
      return;
    }
    this.alarmAt = null;
    this.alarmTimer = undefined;
    const contract = this.contract;
    if (!contract) return;
    if (this.policy === "seed" && !this.deps.seedMaintenance) return;
    this.maintain(contract);
  }

  private maintain(contract: CovenantContract): void {
    const { loop, catalogue } = this.deps;
    this.maintaining = true;
    this.maintenanceRuns++;
    const plannedAt = loop.now;
    const plan = planMaintenance(this.leases.list(), this.leases.demand, contract, catalogue, loop.now);
    for (const id of plan.drain) this.leases.drain(id);
    // Releases one after another (each awaits the upstream), then warm allocations.
    const release = (i: number): void => {
      const id = plan.release[i];
      if (id === undefined) return topUp(0);
      // As the object: a lease a strike took since the plan was made stays.
      if (!stillIdle(this.leases.get(id))) return release(i + 1);
      this.leases.release(id, () => release(i + 1));
    };
    // Warm leases go where strikes would go first, one after another; when that pool is full the
    // rest is left to on-demand strikes. (No breaker ever opens here: the cluster has no faults.)
    const topUp = (modelIndex: number): void => {
      const want = plan.allocate[modelIndex];
      if (!want) return done();
      const spec = catalogue.get(want.model)!;
      const pool = candidatePools(contract, spec, this.leases.poolSnapshot())[0];
      const one = (made: number): void => {
        if (!pool || made >= want.count) return topUp(modelIndex + 1);
        this.leases.allocate(pool.id, contract, spec, allocatePreemptible(contract, spec, pool), "warm", (r) => (r.ok ? one(made + 1) : topUp(modelIndex + 1)));
      };
      one(0);
    };
    const done = () => {
      this.maintaining = false;
      if (plan.nextAt !== null) {
        let next = plan.nextAt;
        if (next <= plannedAt) {
          this.pastAlarms++;
          next = loop.now + PAST_ALARM_DELAY_MS;
        }
        this.wakeAt(next);
      }
      if (this.alarmDeferred) {
        this.alarmDeferred = false;
        loop.after(0, () => this.alarm());
      }
    };
    release(0);
  }
}
