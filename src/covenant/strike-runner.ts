import {
  checkBudget,
  CAPACITY_WAIT_MS,
  candidatePools,
  capacityBackoffMs,
  decideAcquire,
  estimateServiceMs,
  holdCostUsd,
  slicePricePerHour,
  type BudgetRefusal,
  type ModelCatalogue,
  type ModelSpec,
  type PlacementPolicy,
  type StrikeNeed,
} from "../policy";
import { UpstreamError } from "../providers/errors";
import { isAllocationGone, isCapacityExhausted, type HostedAiClient } from "../providers/hostedai";
import type { CovenantContract } from "../schema";
import type { Ledger } from "./ledger";
import type { AllocationOwner, LeaseManager } from "./lease-manager";
import type { StoredLease } from "./storage";
import type { StrikeFailure, StrikeInput, StrikeOutcome } from "./types";

export interface RunnerDeps {
  client: HostedAiClient;
  leases: LeaseManager;
  ledger: Ledger;
  models: ModelCatalogue;
  /** Called after each strike so the object can schedule lease housekeeping. */
  afterStrike: (lease: StoredLease | undefined) => Promise<void>;
}

export interface RunContext {
  contract: CovenantContract;
  policy: PlacementPolicy;
  owner: AllocationOwner;
}

/** A strike refused by the covenant itself (limits, models), not by an upstream. */
class Refused extends Error {
  constructor(readonly failure: StrikeFailure) {
    super(failure.error.message);
  }
}

interface Acquired {
  lease: StoredLease;
  reused: boolean;
  /** Seed policy: the allocation serves this strike only and is released after it. */
  ephemeral: boolean;
}

/**
 * Runs strikes inside the covenant object: acquire a lease (reuse or allocate) → infer → return
 * it. Decisions come from the policy core; this class performs them and records the outcome.
 */
export class StrikeRunner {
  private waiting = 0;

  constructor(private readonly deps: RunnerDeps) {}

  get queueDepth(): number {
    return this.waiting;
  }

  async run(input: StrikeInput, ctx: RunContext): Promise<StrikeOutcome> {
    const startedAt = Date.now();
    const { ledger } = this.deps;
    let model: ModelSpec | undefined;
    let acquired: Acquired | undefined;
    try {
      const requested = this.resolveModel(input, ctx.contract);
      this.deps.leases.observe(requested.id, input.promptTokens, input.maxTokens, startedAt);
      const { model: chosen, estimateUsd } = await this.withinLimits(requested, input, ctx);
      model = chosen;
      ledger.reserve(input.strikeId, estimateUsd);

      const need: StrikeNeed = { model, promptTokens: input.promptTokens, maxTokens: input.maxTokens, latencySensitive: input.latencySensitive };
      let queueMs = 0;
      let allocateMs = 0;
      let inference;
      for (let attempt = 0; ; attempt++) {
        const t0 = Date.now();
        let waitedMs = 0;
        acquired = await this.acquire(need, input, ctx, startedAt + CAPACITY_WAIT_MS, (ms) => (waitedMs += ms));
        queueMs += waitedMs;
        allocateMs += Date.now() - t0 - waitedMs;
        const reused = acquired.reused;
        try {
          const inferStart = Date.now();
          inference = await this.deps.client.infer(acquired.lease.allocationId, {
            model: model.id,
            prompt: input.promptText,
            max_tokens: input.maxTokens,
            temperature: input.temperature,
          });
          const inferMs = Date.now() - inferStart;
          const concurrency = Math.max(1, acquired.lease.inFlight);
          const chargedUsd = inference.cost_usd / concurrency;
          const releaseStart = Date.now();
          const lease = await this.giveBack(acquired, chargedUsd);
          acquired = undefined;
          const releaseMs = Date.now() - releaseStart;
          ledger.settle(input.strikeId, {
            strike_id: input.strikeId,
            tenant: input.tenant,
            covenant_id: input.covenantId,
            model: model.id,
            pool_id: lease.poolId,
            allocation_id: lease.allocationId,
            outcome: "ok",
            error_type: null,
            prompt_tokens: inference.usage.prompt_tokens,
            completion_tokens: inference.usage.completion_tokens,
            cost_usd: chargedUsd,
            allocation_seconds: inference.latency_ms / 1000 / concurrency,
            created_at: startedAt,
            total_ms: Date.now() - startedAt,
          });
          await this.deps.afterStrike(lease);
          return {
            ok: true,
            strike: {
              covenant_id: input.covenantId,
              model: model.id,
              pool_id: lease.poolId,
              allocation_id: lease.allocationId,
              lease_reused: reused,
              ...(model.id !== requested.id ? { degraded_from: requested.id } : {}),
              output: { role: "assistant", content: inference.text },
              finish_reason: inference.finish_reason,
              usage: inference.usage,
              cost_usd: chargedUsd,
              timings: { queue_ms: queueMs, allocate_ms: Math.max(0, allocateMs), infer_ms: inferMs, release_ms: releaseMs },
            },
          };
        } catch (err) {
          // The allocation vanished under us (expired, preempted, released upstream): never use
          // it again, and run the strike once more on another.
          if (isAllocationGone(err) && attempt === 0 && acquired) {
            this.deps.leases.drop(acquired.lease.leaseId);
            acquired = undefined;
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      if (acquired) await this.giveBack(acquired, 0);
      const failure = toFailure(err);
      ledger.settle(input.strikeId, {
        strike_id: input.strikeId,
        tenant: input.tenant,
        covenant_id: input.covenantId,
        model: model?.id ?? input.model ?? ctx.contract.default_model,
        pool_id: null,
        allocation_id: null,
        outcome: "error",
        error_type: failure.error.type,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0,
        allocation_seconds: 0,
        created_at: startedAt,
        total_ms: Date.now() - startedAt,
      });
      await this.deps.afterStrike(undefined);
      return failure;
    }
  }

  private resolveModel(input: StrikeInput, contract: CovenantContract): ModelSpec {
    const id = input.model ?? contract.default_model;
    const model = this.deps.models.get(id);
    if (!model) throw new Refused(fail(400, { type: "unknown_model", message: `unknown model ${JSON.stringify(id)}`, param: "model" }));
    if (!contract.models.includes(id)) {
      throw new Refused(
        fail(400, { type: "model_not_allowed", message: `covenant ${contract.id} does not allow ${id}; allowed: ${contract.models.join(", ")}`, param: "model" }),
      );
    }
    return model;
  }

  /**
   * The strike's maximum expected cost, checked against the covenant's limits before anything is
   * allocated. Over a limit: refuse, or (when the covenant says degrade) take the cheapest allowed
   * smaller model that fits.
   */
  private async withinLimits(model: ModelSpec, input: StrikeInput, ctx: RunContext): Promise<{ model: ModelSpec; estimateUsd: number }> {
    const estimate = async (m: ModelSpec) => this.estimateUsd(m, input, ctx);
    const first = await estimate(model);
    const refusal = this.deps.ledger.check(ctx.contract, first);
    if (!refusal) return { model, estimateUsd: first };
    if (ctx.contract.cost.on_limit === "degrade") {
      const smaller = ctx.contract.models
        .map((id) => this.deps.models.get(id)!)
        .filter((m) => m && m.paramsB < model.paramsB)
        .sort((a, b) => a.paramsB - b.paramsB);
      for (const m of smaller) {
        const usd = await estimate(m);
        if (!this.deps.ledger.check(ctx.contract, usd)) return { model: m, estimateUsd: usd };
      }
    }
    throw new Refused(budgetFailure(refusal));
  }

  /** Upper estimate in dollars: a warm lease's price, or the cheapest allowed pool's plus its idle tail. */
  private async estimateUsd(model: ModelSpec, input: StrikeInput, ctx: RunContext): Promise<number> {
    const serviceMs = estimateServiceMs(model, input.promptTokens, input.maxTokens);
    const warm = this.deps.leases.list().find((l) => l.model === model.id && l.state === "active");
    if (warm && ctx.policy !== "seed") return holdCostUsd(warm.pricePerHour, serviceMs);
    const pools = await this.deps.leases.poolSnapshot();
    const candidates = candidatePools(ctx.contract, model, pools);
    const price = candidates.length > 0 ? Math.max(...candidates.map((p) => slicePricePerHour(model, p))) : 0;
    // A new allocation is billed at least a second, and a lease is held through its idle timeout.
    const tailMs = ctx.policy === "seed" ? 1000 : ctx.contract.lease.idle_timeout_s * 1000;
    return holdCostUsd(price, serviceMs + tailMs);
  }

  /** Waits (bounded) until a lease can take the strike: reuse, allocate, or wait for one to free. */
  private async acquire(need: StrikeNeed, input: StrikeInput, ctx: RunContext, deadline: number, waited: (ms: number) => void): Promise<Acquired> {
    const { leases } = this.deps;
    for (let attempt = 0; ; attempt++) {
      const decision =
        ctx.policy === "seed"
          ? { kind: "allocate" as const }
          : decideAcquire(leases.list(), need, ctx.contract, Date.now(), leases.pendingFor(need.model.id));
      if (decision.kind === "reuse") return { lease: leases.start(decision.leaseId), reused: true, ephemeral: false };
      if (decision.kind === "join") {
        const t0 = Date.now();
        const unclaim = leases.claimPending(need.model.id);
        this.waiting++;
        try {
          await leases.freed.next(Math.max(0, deadline - Date.now()));
        } finally {
          this.waiting--;
          unclaim();
        }
        waited(Date.now() - t0);
        continue;
      }
      let retryAfterS: number | undefined;
      if (decision.kind === "allocate") {
        try {
          const lease = await leases.allocate(ctx.policy, ctx.contract, need.model, need.latencySensitive, ctx.owner, input.strikeId);
          return { lease: leases.start(lease.leaseId), reused: false, ephemeral: ctx.policy === "seed" };
        } catch (err) {
          if (!isCapacityExhausted(err)) throw err;
          retryAfterS = err.retryAfterS;
          if (Date.now() >= deadline) throw err;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Refused(fail(503, { type: "capacity_exhausted", message: "no lease or upstream capacity became free in time", retry_after_s: 1 }));
      }
      const t0 = Date.now();
      this.waiting++;
      try {
        await leases.freed.next(capacityBackoffMs(attempt, retryAfterS, remaining, Math.random()));
      } finally {
        this.waiting--;
      }
      waited(Date.now() - t0);
    }
  }

  private async giveBack(acquired: Acquired, chargedUsd: number): Promise<StoredLease> {
    const lease = this.deps.leases.finish(acquired.lease.leaseId, chargedUsd) ?? acquired.lease;
    if (acquired.ephemeral || (lease.state === "draining" && lease.inFlight === 0)) await this.deps.leases.release(lease.leaseId);
    return lease;
  }
}

function fail(status: StrikeFailure["status"], error: StrikeFailure["error"]): StrikeFailure {
  return { ok: false, status, error };
}

function budgetFailure(r: BudgetRefusal): StrikeFailure {
  return fail(402, { ...r });
}

function toFailure(err: unknown): StrikeFailure {
  if (err instanceof Refused) return err.failure;
  if (err instanceof UpstreamError) {
    const status = err.gatewayStatus;
    const upstreamType = err.type;
    const type = isCapacityExhausted(err) ? "capacity_exhausted" : upstreamType === "no_pool" ? "no_pool" : status === 504 ? "upstream_timeout" : "upstream_error";
    return fail(status, {
      type,
      message: `${err.provider}: ${err.message}`,
      ...(err.retryAfterS !== undefined ? { retry_after_s: err.retryAfterS } : {}),
      upstream: { provider: err.provider, status: err.status, type: err.type },
    });
  }
  throw err;
}
