import { classify } from "../classify";
import {
  estimatorFromPrices,
  executePlan,
  planFusion,
  resolveFusionPolicy,
  SingleFlight,
  type FragmentResult,
  type FusionPlan,
  type FusionRequest,
  type ResolvedFusionPolicy,
} from "../fusion";
import { candidatePools, DEFAULT_ROUTES, needsPoolPrices, routeModel, slicePricePerHour, strikeDeadlineMs, type ModelCatalogue, type PoolSnapshot } from "../policy";
import { FUSION_DEFAULTS, type FusionProgress } from "../schema";
import { SqlResultCache, SqlSemanticCache, type CacheLimits } from "./fusion-cache";
import type { LeaseManager } from "./lease-manager";
import type { Ledger } from "./ledger";
import type { RunContext, RunOptions, StrikeRunner } from "./strike-runner";
import type { FailureStatus, StrikeInput, StrikeOutcome } from "./types";

const FAILURE_STATUSES: readonly FailureStatus[] = [400, 402, 404, 409, 422, 429, 502, 503, 504];

/** A fusion status the strike API can answer with (a cancelled or oversized plan maps to its nearest). */
function failureStatus(status: number): FailureStatus {
  if (status === 413) return 400;
  return FAILURE_STATUSES.includes(status as FailureStatus) ? (status as FailureStatus) : 502;
}

/** Whoever watches a strike: its tokens and placement (a plan of one), fragment progress (a fused plan), cancellation. */
export interface Observers extends Pick<RunOptions, "onToken" | "onPlaced" | "signal"> {
  onProgress?: (progress: FusionProgress) => void;
}

/**
 * Fused strikes in the covenant object: the request is planned (src/fusion) with the edge's
 * classifier and the covenant's routes and prices, each fragment runs as a strike of its own
 * through the runner (fallbacks, breakers, ledger and all), and the results are fused. A plan of
 * one fragment is just the strike. The plan's price is checked against the covenant's budgets and
 * reserved once, as a whole; its fragments run inside that reservation and stop at the plan's
 * deadline. Fragment results are cached in the object's SQLite (fusion-cache.ts), so they outlive
 * its evictions; fragments in flight are shared in memory (single-flight).
 */
export class FusionDesk {
  private readonly flights = new SingleFlight<FragmentResult>();
  private limits: CacheLimits = { maxEntries: FUSION_DEFAULTS.cache_max_entries, ttlMs: FUSION_DEFAULTS.cache_ttl_s * 1000 };
  private readonly results: SqlResultCache;
  private readonly semantic: SqlSemanticCache;

  constructor(
    sql: SqlStorage,
    private readonly runner: StrikeRunner,
    private readonly leases: LeaseManager,
    private readonly ledger: Ledger,
    private readonly models: ModelCatalogue,
    /** Hears each fragment's strike as it finishes (the object books it in its metrics). */
    private readonly onFragment: (input: StrikeInput, outcome: StrikeOutcome) => void = () => {},
  ) {
    this.results = new SqlResultCache(sql, () => this.limits);
    this.semantic = new SqlSemanticCache(sql, () => this.limits);
  }

  /** Drops every cached answer (the covenant is being deleted). */
  forget(): void {
    this.results.clear();
    this.semantic.clear();
  }

  async run(input: StrikeInput, ctx: RunContext, observers: Observers = {}): Promise<StrikeOutcome> {
    const { contract } = ctx;
    const policy = resolveFusionPolicy(contract.fusion);
    // Without a listing the plan has no pool prices: under cost limits its fragments then run
    // only where they cost nothing (the local node), never on pools priced as free.
    let poolsUnpriced = false;
    const pools = await this.leases.poolSnapshot().catch(() => {
      poolsUnpriced = needsPoolPrices(contract);
      return [] as PoolSnapshot[];
    });
    const priceOf = (modelId: string) => {
      const model = this.models.get(modelId);
      const prices = model ? candidatePools(contract, model, pools).map((p) => slicePricePerHour(model, p)) : [];
      return prices.length > 0 ? Math.min(...prices) : 0;
    };
    const request: FusionRequest = {
      ...(input.messages ? { messages: input.messages } : { prompt: input.promptText }),
      ...(input.model ? { model: input.model } : {}),
      max_tokens: input.maxTokens,
      temperature: input.temperature,
      ...(input.fusion ? { fusion: input.fusion } : {}),
    };
    const planned = await planFusion(request, input.classification ?? classify(input.promptText), {
      covenant: contract,
      policy,
      catalogue: this.models,
      classify,
      route: (c) => routeModel(c, contract.routes ?? DEFAULT_ROUTES, contract.models, undefined, { defaultModel: contract.default_model }).model,
      estimate: estimatorFromPrices(this.models, priceOf),
    });
    if (!planned.ok) return { ok: false, status: failureStatus(planned.status), error: planned.error };
    const plan = planned.plan;
    // Nothing to decompose: the plain strike, at no extra cost.
    const { onProgress, ...strikeObservers } = observers;
    if (plan.strategy === "single") return this.runner.run({ ...input, fusion: undefined, messages: undefined }, ctx, strikeObservers);

    const priceUsd = plan.price_usd ?? 0;
    const refusal = this.ledger.check(contract, priceUsd);
    if (refusal) return { ok: false, status: 402, error: { ...refusal, message: `the fused plan (${plan.strategy}, ${plan.fragments.length} fragments): ${refusal.message}` } };
    this.ledger.reserve(input.strikeId, priceUsd);
    try {
      return await this.execute(input, ctx, plan, policy, observers, poolsUnpriced);
    } finally {
      this.ledger.release(input.strikeId);
    }
  }

  private async execute(input: StrikeInput, ctx: RunContext, plan: FusionPlan, policy: ResolvedFusionPolicy, observers: Observers, poolsUnpriced: boolean): Promise<StrikeOutcome> {
    const { contract } = ctx;
    const deadlineAt = Date.now() + strikeDeadlineMs(contract.qos.latency_slo_ms);
    this.limits = { maxEntries: policy.cache_max_entries, ttlMs: policy.cache_ttl_s * 1000 };
    const out = await executePlan(plan, {
      tenant: input.tenant,
      now: Date.now,
      deadlineAt,
      caches: { results: this.results, flights: this.flights, semantic: this.semantic },
      ...(observers.onProgress ? { onProgress: observers.onProgress } : {}),
      ...(observers.signal ? { signal: observers.signal } : {}),
      runFragment: async (fragment, signal) => {
        const fragmentInput: StrikeInput = {
          strikeId: `${input.strikeId}.${fragment.id}`,
          tenant: input.tenant,
          covenantId: input.covenantId,
          model: fragment.model,
          promptText: fragment.prompt,
          promptTokens: fragment.prompt_tokens,
          maxTokens: fragment.max_tokens,
          temperature: fragment.temperature,
          latencySensitive: input.latencySensitive,
          ...(input.priority ? { priority: input.priority } : {}),
        };
        const outcome = await this.runner.run(fragmentInput, ctx, { signal, deadlineAt, budgetHeld: true, poolsUnpriced });
        this.onFragment(fragmentInput, outcome);
        if (!outcome.ok) return { ok: false, status: outcome.status, error: { type: outcome.error.type, message: outcome.error.message } };
        const s = outcome.strike;
        return {
          ok: true,
          text: s.output.content,
          model: s.model,
          pool_id: s.pool_id,
          allocation_id: s.allocation_id,
          usage: { prompt_tokens: s.usage.prompt_tokens, completion_tokens: s.usage.completion_tokens },
          cost_usd: s.cost_usd,
          // Fragments are never agent turns: no tool calls end them.
          finish_reason: s.finish_reason === "length" ? "length" : "stop",
        };
      },
    });
    if (!out.ok) {
      const { type, message, missing } = out.error;
      return { ok: false, status: failureStatus(out.status), error: { type, message, ...(missing ? { missing } : {}), fusion: out.report } };
    }
    const { totals } = out.report;
    const answered = out.report.fragments.filter((f) => f.status === "ok");
    const last = answered.at(-1);
    return {
      ok: true,
      strikeId: input.strikeId,
      strike: {
        covenant_id: input.covenantId,
        model: out.report.fused_by.model ?? last?.model ?? contract.default_model,
        model_reason: `fusion (${plan.strategy}): ${plan.reason}`,
        pool_id: "fused",
        allocation_id: "fused",
        lease_reused: false,
        output: { role: "assistant", content: out.content },
        finish_reason: out.finish_reason,
        usage: { prompt_tokens: totals.prompt_tokens, completion_tokens: totals.completion_tokens, total_tokens: totals.prompt_tokens + totals.completion_tokens },
        cost_usd: totals.cost_usd,
        timings: { queue_ms: 0, allocate_ms: 0, infer_ms: totals.wall_ms, release_ms: 0 },
        fusion: out.report,
      },
    };
  }
}
