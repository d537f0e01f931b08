import { classify } from "../classify";
import {
  estimatorFromPrices,
  executePlan,
  planFusion,
  resolveFusionPolicy,
  ResultCache,
  SemanticCache,
  SingleFlight,
  type FragmentResult,
  type FragmentSuccess,
  type FusionRequest,
} from "../fusion";
import { candidatePools, DEFAULT_ROUTES, routeModel, slicePricePerHour, strikeDeadlineMs, type ModelCatalogue, type PoolSnapshot } from "../policy";
import type { LeaseManager } from "./lease-manager";
import type { RunContext, StrikeRunner } from "./strike-runner";
import type { FailureStatus, StrikeInput, StrikeOutcome } from "./types";

const FAILURE_STATUSES: readonly FailureStatus[] = [400, 402, 404, 409, 422, 429, 502, 503, 504];

/** A fusion status the strike API can answer with (a cancelled or oversized plan maps to its nearest). */
function failureStatus(status: number): FailureStatus {
  if (status === 413) return 400;
  return FAILURE_STATUSES.includes(status as FailureStatus) ? (status as FailureStatus) : 502;
}

/**
 * Fused strikes in the covenant object: the request is planned (src/fusion) with the edge's
 * classifier and the covenant's routes and prices, each fragment runs as a strike of its own
 * through the runner (fallbacks, breakers, ledger and all), and the results are fused. A plan of
 * one fragment is just the strike. The caches live as long as the object.
 */
export class FusionDesk {
  private readonly flights = new SingleFlight<FragmentResult>();
  private results: ResultCache<FragmentSuccess> | undefined;
  private semantic: SemanticCache<FragmentSuccess> | undefined;

  constructor(
    private readonly runner: StrikeRunner,
    private readonly leases: LeaseManager,
    private readonly models: ModelCatalogue,
  ) {}

  async run(input: StrikeInput, ctx: RunContext): Promise<StrikeOutcome> {
    const { contract } = ctx;
    const policy = resolveFusionPolicy(contract.fusion);
    const pools = await this.leases.poolSnapshot().catch(() => [] as PoolSnapshot[]);
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
    if (plan.strategy === "single") return this.runner.run({ ...input, fusion: undefined, messages: undefined }, ctx);

    this.results ??= new ResultCache({ maxEntries: policy.cache_max_entries, ttlMs: policy.cache_ttl_s * 1000, now: Date.now });
    if (policy.semantic_cache) this.semantic ??= new SemanticCache({ maxEntries: policy.cache_max_entries, ttlMs: policy.cache_ttl_s * 1000, now: Date.now });
    const out = await executePlan(plan, {
      tenant: input.tenant,
      now: Date.now,
      deadlineAt: Date.now() + strikeDeadlineMs(contract.qos.latency_slo_ms),
      caches: { results: this.results, flights: this.flights, ...(this.semantic ? { semantic: this.semantic } : {}) },
      runFragment: async (fragment) => {
        const outcome = await this.runner.run(
          {
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
          },
          ctx,
        );
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
          finish_reason: s.finish_reason,
        };
      },
    });
    if (!out.ok) {
      return { ok: false, status: failureStatus(out.status), error: { type: out.error.type, message: out.error.message, fusion: out.report } };
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
