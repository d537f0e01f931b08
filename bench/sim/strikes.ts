/**
 * StrikeRunner and attemptPool (src/covenant/strike-runner.ts, attempt.ts) in virtual time: walk
 * the fallback chain from planTargets, up to ATTEMPTS_PER_TARGET tries per target for retryable
 * failures, wait for capacity when every target was merely full; on a pool, take a lease as the
 * object does, through the same LeaseBook.acquire (reuse, join, allocate, or wait for a slot),
 * infer, give the lease back. Each
 * strike leaves a record for the report. The simulated cluster has no faults and no local node,
 * so breakers never change state and the chain holds pools only.
 */
import {
  ATTEMPTS_PER_TARGET,
  capacityBackoffMs,
  estimateServiceMs,
  isRetryable,
  planTargets,
  retryDelayMs,
  strikeDeadlineMs,
  type Lease,
  type ModelSpec,
  type PlacementPolicy,
  type AcquireRequest,
  type Target,
} from "../../src/policy";
import type { CovenantContract } from "../../src/schema";
import type { SimCluster } from "./cluster";
import type { EventLoop } from "./engine";
import { GONE_STATUSES, type Failure, type SimLeaseManager } from "./leases";

export interface SimStrike {
  index: number;
  model: ModelSpec;
  promptTokens: number;
  maxTokens: number;
  /** Tokens the inference produces (the emulator decides this in a live run). */
  completionTokens: number;
  latencySensitive: boolean;
  /** The classifier's estimate of the answer's tokens, when the replay has one. */
  outputTokens?: number;
}

export interface StrikeRecord {
  index: number;
  arrivedAt: number;
  /** When the strike had a slice to run on (the last time, if it had to move). */
  acquiredAt: number | null;
  endedAt: number | null;
  /** When the first token was ready, had the strike streamed (the last try's). */
  firstTokenAt: number | null;
  /** Ms per output token after the first; null for an answer of at most one token. */
  tpotMs: number | null;
  ok: boolean;
  reused: boolean;
  allocationId: string | null;
  error: string | null;
}

type PoolTarget = Extract<Target, { kind: "pool" }>;

export interface RunnerDeps {
  loop: EventLoop;
  cluster: SimCluster;
  leases: SimLeaseManager;
  contract: () => CovenantContract;
  policy: PlacementPolicy;
  /** Uniform [0, 1) draws: the object's Math.random() for jitter. */
  random: () => number;
  afterStrike: (leaseUsed: boolean) => void;
}

const fault = (status: number, type: string, retryAfterS?: number): Failure => ({ ok: false, status, type, ...(retryAfterS !== undefined && { retryAfterS }) });

export class SimStrikeRunner {
  readonly records: StrikeRecord[] = [];
  /** Strikes waiting for a lease slot right now (the object's queue depth). */
  waiting = 0;
  /** Strikes that found every target full at least once and waited for capacity. */
  metFullPools = 0;

  constructor(private readonly deps: RunnerDeps) {}

  run(strike: SimStrike): void {
    const { loop, leases, policy } = this.deps;
    const contract = this.deps.contract();
    const record: StrikeRecord = { index: strike.index, arrivedAt: loop.now, acquiredAt: null, endedAt: null, firstTokenAt: null, tpotMs: null, ok: false, reused: false, allocationId: null, error: null };
    this.records.push(record);
    const deadline = record.arrivedAt + strikeDeadlineMs(contract.qos.latency_slo_ms);
    leases.observe(strike.model.id, strike.promptTokens, strike.maxTokens, loop.now);

    const end = (error: string | null) => {
      record.ok = error === null;
      record.error = error;
      record.endedAt = loop.now;
      this.deps.afterStrike(error === null);
    };

    const round = (n: number): void => {
      const { targets } = planTargets(policy, contract, strike.model, strike.latencySensitive, leases.poolSnapshot(), false);
      const pools = targets.filter((t): t is PoolTarget => t.kind === "pool");
      let onlyCapacity = pools.length > 0;
      let retryAfterS: number | undefined;
      const tryTarget = (ti: number, attempt: number): void => {
        const target = pools[ti];
        if (!target) return endOfRound();
        if (attempt >= ATTEMPTS_PER_TARGET || loop.now >= deadline) return tryTarget(ti + 1, 0);
        this.attemptPool(strike, target, contract, deadline, record, () => end(null), (err) => {
          if (err.type === "capacity_exhausted") retryAfterS = err.retryAfterS;
          else onlyCapacity = false;
          if (!isRetryable(err.status, err.type)) return tryTarget(ti + 1, 0);
          loop.after(retryDelayMs(attempt, err.retryAfterS, deadline - loop.now, this.deps.random()), () => tryTarget(ti, attempt + 1));
        });
      };
      const endOfRound = () => {
        const remaining = deadline - loop.now;
        if (!onlyCapacity || remaining <= 0) return end(onlyCapacity ? "capacity_exhausted" : "upstreams_exhausted");
        // Every target was merely full: wait for this covenant to free a slice, or for time to pass.
        if (n === 0) this.metFullPools++;
        leases.freed.next(capacityBackoffMs(n, retryAfterS, remaining, this.deps.random()), () => round(n + 1));
      };
      tryTarget(0, 0);
    };
    round(0);
  }

  /** One try on a pool: a lease there, the inference on it, the lease given back. */
  private attemptPool(strike: SimStrike, target: PoolTarget, contract: CovenantContract, deadline: number, record: StrikeRecord, ok: () => void, failed: (f: Failure) => void): void {
    const { loop, leases, cluster } = this.deps;
    const ephemeral = this.deps.policy === "seed";
    this.acquireOn(strike, target, contract, deadline, ephemeral, failed, (lease, reused) => {
      record.acquiredAt = loop.now;
      record.reused = reused;
      record.allocationId = lease.allocationId;
      const half = leases.callMs / 2;
      const callStart = loop.now;
      // The object stops waiting for an inference after a pessimistic allowance or the deadline.
      const timeoutMs = Math.max(1_000, Math.min(estimateServiceMs(strike.model, strike.promptTokens, strike.maxTokens) * 3 + 2_000, deadline - loop.now));
      loop.call(half, () => {
        const started = cluster.beginInference(lease.allocationId, strike.model.id, strike.promptTokens, strike.completionTokens, loop.now);
        if (!started.ok) {
          const { status, type } = started.error;
          return loop.call(half, () => {
            if (GONE_STATUSES.includes(status)) {
              // Expired, preempted or released under the strike: never use it again.
              leases.finish(lease.leaseId);
              leases.drop(lease.leaseId);
              return failed(fault(status, "allocation_gone"));
            }
            this.giveBack(lease, ephemeral, () => failed(fault(status, type)));
          });
        }
        const { inferenceId, latencyMs, ttftMs, tpotMs } = started.value;
        record.firstTokenAt = loop.now + ttftMs + half;
        record.tpotMs = strike.completionTokens > 1 ? tpotMs : null;
        loop.after(latencyMs, () => cluster.finishInference(inferenceId, latencyMs));
        const answeredAt = loop.now + latencyMs + half;
        loop.at(Math.min(answeredAt, callStart + timeoutMs), () => {
          if (answeredAt > callStart + timeoutMs) return this.giveBack(lease, ephemeral, () => failed(fault(0, "timeout")));
          const concurrent = Math.max(1, lease.inFlight);
          leases.observeService(strike.model.id, estimateServiceMs(strike.model, strike.promptTokens, strike.maxTokens) * Math.sqrt(concurrent), latencyMs);
          this.giveBack(lease, ephemeral, ok);
        });
      });
    });
  }

  private acquireOn(
    strike: SimStrike,
    target: PoolTarget,
    contract: CovenantContract,
    deadline: number,
    ephemeral: boolean,
    failed: (f: Failure) => void,
    acquired: (lease: Lease, reused: boolean) => void,
  ): void {
    const { loop, leases } = this.deps;
    const request: AcquireRequest = {
      model: strike.model,
      poolId: target.id,
      preemptible: target.preemptible,
      promptTokens: strike.promptTokens,
      maxTokens: strike.maxTokens,
      ...(strike.outputTokens !== undefined && { outputTokens: strike.outputTokens }),
      latencySensitive: strike.latencySensitive,
      ephemeral,
    };
    const step = (): void => {
      const decision = leases.acquire(request, contract);
      if (decision.kind === "reuse") return acquired(leases.get(decision.leaseId)!, true);
      if (decision.kind === "allocate") {
        return leases.allocate(target.id, contract, strike.model, target.preemptible, "strike", (r) => (r.ok ? acquired(r.lease, false) : failed(r)), true);
      }
      // join or wait: something on this pool will free or arrive; wait for it, bounded by the deadline.
      const remaining = deadline - loop.now;
      if (remaining <= 0) return failed(fault(503, "capacity_exhausted"));
      const unclaim = decision.kind === "join" ? leases.claimPending(target.id, strike.model.id, target.preemptible) : () => {};
      this.waiting++;
      leases.freed.next(remaining, () => {
        this.waiting--;
        unclaim();
        step();
      });
    };
    step();
  }

  /** Returns the lease; a seed lease, or a drained one now idle, is released before `then`. */
  private giveBack(lease: Lease, ephemeral: boolean, then: () => void): void {
    const { leases } = this.deps;
    const after = leases.finish(lease.leaseId);
    if (after && (ephemeral || (after.state === "draining" && after.inFlight === 0))) leases.release(after.leaseId, then);
    else then();
  }
}
