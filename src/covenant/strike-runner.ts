import { capacityBackoffMs, CAPACITY_WAIT_MS, seedPlacement, singleStrikeDurationS, type ModelCatalogue, type ModelSpec } from "../policy";
import { UpstreamError } from "../providers/errors";
import { isAllocationGone, isCapacityExhausted, type HostedAiClient, type WireAllocation } from "../providers/hostedai";
import type { Admission, CapacitySignal } from "./admission";
import type { PoolCache } from "./pool-cache";
import type { CovenantStore } from "./storage";
import type { StrikeFailure, StrikeInput, StrikeOutcome } from "./types";

export interface RunnerDeps {
  client: HostedAiClient;
  store: CovenantStore;
  models: ModelCatalogue;
  pools: PoolCache;
  admission: Admission;
  capacity: CapacitySignal;
  /** Called when a release could not be sent and has been left to the alarm. */
  releaseDeferred: () => Promise<void>;
}

/** A strike that ended without an upstream error, e.g. nothing in the covenant can serve it. */
class StrikeRefused extends Error {
  constructor(readonly failure: StrikeFailure) {
    super(failure.error.message);
  }
}

/**
 * Runs strikes: acquire capacity → infer → release, in the covenant object. The decisions come
 * from the policy core; this class performs them and records what happened.
 */
export class StrikeRunner {
  constructor(private readonly deps: RunnerDeps) {}

  async run(input: StrikeInput): Promise<StrikeOutcome> {
    const { store, admission } = this.deps;
    const startedAt = Date.now();
    await admission.acquire();
    const queueMs = Date.now() - startedAt;
    let allocation: WireAllocation | undefined;
    try {
      const model = this.deps.models.get(input.model);
      if (!model) {
        throw new StrikeRefused({ ok: false, status: 400, error: { type: "unknown_model", message: `unknown model ${input.model}`, param: "model" } });
      }
      const allocStart = Date.now();
      allocation = await this.allocate(model, input, allocStart + CAPACITY_WAIT_MS);
      const allocateMs = Date.now() - allocStart;

      const inferStart = Date.now();
      const inference = await this.deps.client.infer(allocation.allocation_id, {
        model: model.id,
        prompt: input.promptText,
        max_tokens: input.maxTokens,
        temperature: input.temperature,
      });
      const inferMs = Date.now() - inferStart;

      const releaseStart = Date.now();
      const bill = await this.release(allocation);
      const releaseMs = Date.now() - releaseStart;

      store.recordStrike({
        strike_id: input.strikeId,
        tenant: input.tenant,
        covenant_id: input.covenantId,
        model: model.id,
        pool_id: allocation.pool_id,
        allocation_id: allocation.allocation_id,
        outcome: "ok",
        error_type: null,
        prompt_tokens: inference.usage.prompt_tokens,
        completion_tokens: inference.usage.completion_tokens,
        cost_usd: bill.costUsd,
        allocation_seconds: bill.seconds,
        created_at: startedAt,
        total_ms: Date.now() - startedAt,
      });
      return {
        ok: true,
        strike: {
          covenant_id: input.covenantId,
          model: model.id,
          pool_id: allocation.pool_id,
          allocation_id: allocation.allocation_id,
          output: { role: "assistant", content: inference.text },
          finish_reason: inference.finish_reason,
          usage: inference.usage,
          cost_usd: bill.costUsd,
          timings: { queue_ms: queueMs, allocate_ms: allocateMs, infer_ms: inferMs, release_ms: releaseMs },
        },
      };
    } catch (err) {
      const bill = allocation ? await this.release(allocation) : { costUsd: 0, seconds: 0 };
      const failure = toFailure(err);
      store.recordStrike({
        strike_id: input.strikeId,
        tenant: input.tenant,
        covenant_id: input.covenantId,
        model: input.model,
        pool_id: allocation?.pool_id ?? null,
        allocation_id: allocation?.allocation_id ?? null,
        outcome: "error",
        error_type: failure.error.type,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: bill.costUsd,
        allocation_seconds: bill.seconds,
        created_at: startedAt,
        total_ms: Date.now() - startedAt,
      });
      return failure;
    } finally {
      admission.release();
    }
  }

  /** Asks for a slice where the seed rule says, waiting for capacity (bounded) when the pool is full. */
  private async allocate(model: ModelSpec, input: StrikeInput, deadline: number): Promise<WireAllocation> {
    const { client, pools, store, capacity } = this.deps;
    for (let attempt = 0; ; attempt++) {
      const placement = seedPlacement(model, input.latencySensitive, await pools.get(Date.now()));
      if (placement.kind === "no_pool") {
        throw new StrikeRefused({ ok: false, status: 503, error: { type: "no_pool", message: placement.reason } });
      }
      const { poolId, preemptible, requirements } = placement.placement;
      try {
        const allocation = await client.allocate({
          pool_id: poolId,
          requirements,
          duration_seconds: singleStrikeDurationS(input.maxTokens),
          preemptible,
          metadata: { tenant: input.tenant, covenant: input.covenantId, strike: input.strikeId },
        });
        // Recorded before any further I/O, so a crash from here on cannot leak it.
        store.holdAllocation({
          allocation_id: allocation.allocation_id,
          pool_id: allocation.pool_id,
          model: model.id,
          vram_mb: allocation.vram_mb,
          price_per_hour: allocation.price_per_hour,
          created_at: Date.now(),
          expires_at: Date.parse(allocation.expires_at),
          state: "in_use",
        });
        return allocation;
      } catch (err) {
        const remaining = deadline - Date.now();
        if (!isCapacityExhausted(err) || remaining <= 0) throw err;
        pools.invalidate();
        await capacity.next(capacityBackoffMs(attempt, err.retryAfterS, remaining, Math.random()));
      }
    }
  }

  /**
   * Gives the slice back. A release that fails is not the client's problem: the allocation is
   * marked and the alarm keeps trying, so it is never leaked.
   */
  private async release(allocation: WireAllocation): Promise<{ costUsd: number; seconds: number }> {
    const { client, store, capacity } = this.deps;
    try {
      const receipt = await client.release(allocation.allocation_id);
      store.forgetAllocation(allocation.allocation_id);
      capacity.notify();
      return { costUsd: receipt.cost_usd, seconds: receipt.billed_seconds };
    } catch (err) {
      if (isAllocationGone(err)) {
        store.forgetAllocation(allocation.allocation_id);
        capacity.notify();
      } else {
        store.markReleasing(allocation.allocation_id);
        store.setTimer("release", allocation.allocation_id, Date.now());
        await this.deps.releaseDeferred();
      }
      const seconds = Math.max(0, (Date.now() - Date.parse(allocation.created_at)) / 1000);
      return { costUsd: (seconds * allocation.price_per_hour) / 3600, seconds };
    }
  }
}

function toFailure(err: unknown): StrikeFailure {
  if (err instanceof StrikeRefused) return err.failure;
  if (err instanceof UpstreamError) {
    const status = err.gatewayStatus;
    const type = isCapacityExhausted(err) ? "capacity_exhausted" : status === 504 ? "upstream_timeout" : "upstream_error";
    return {
      ok: false,
      status,
      error: {
        type,
        message: `${err.provider}: ${err.message}`,
        ...(err.retryAfterS !== undefined ? { retry_after_s: err.retryAfterS } : {}),
        upstream: { provider: err.provider, status: err.status, type: err.type },
      },
    };
  }
  throw err;
}
