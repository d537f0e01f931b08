/**
 * Fragment plans: a pure, deterministic function of (request, classification, covenant,
 * catalogue) and the classify / route / estimate functions the caller passes in. The strategy is
 * the client's when it names one; otherwise: a prompt over the covenant's map-reduce threshold or
 * the routed model's context is map-reduced, independent sub-tasks are split, an ensemble runs
 * only where the covenant asks for it by label, and everything else stays whole.
 *
 * `single` is the fast path: no sub-task search beyond one regular-expression test, no classify
 * call, no pricing (its strike is priced and checked by the covenant as every strike is), its
 * fragment sends the request's own prompt string, and the executor hands its answer back as
 * it came. What it does cost is its identity — one SHA-256 pass over the prompt — which is what
 * lets a repeat be answered from the cache.
 */
import type { Classification, FusionStrategy } from "../schema";
import { findSubTasks, mightHaveSubTasks } from "./detect";
import { identify } from "./identity";
import { buildEnsemble } from "./plan-ensemble";
import { buildMapReduce } from "./plan-map";
import { buildSplit } from "./plan-split";
import { checkModel, specOf, type BuildResult } from "./plan-common";
import { fusionTextChars, MAX_FUSION_TEXT_CHARS, requestText, type FusionRequest, type RequestText } from "./request";
import type { DraftPlan, FusionPlan, PlanContext, PlanResult } from "./types";

type Requested = "auto" | FusionStrategy;

function single(req: FusionRequest, text: RequestText, classification: Classification, ctx: PlanContext, requested: Requested, reason: string, model: string): DraftPlan {
  return {
    ...common(req, text, ctx, requested),
    strategy: "single",
    reason,
    fragments: [
      {
        id: "f1",
        role: "whole",
        title: "Request",
        model,
        label: classification.label,
        system: text.system,
        input: text.input,
        prompt: text.prompt,
        prompt_tokens: classification.prompt_tokens,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        span: null,
        estimate_usd: null,
      },
    ],
    fuse: { kind: "none" },
    tolerate_gaps: false,
    concurrency: 1,
    price_usd: null,
  };
}

function common(req: FusionRequest, text: RequestText, ctx: PlanContext, requested: Requested) {
  const useCache = req.fusion?.cache !== false;
  const policy = ctx.policy;
  return {
    requested,
    limit_usd: ctx.covenant.cost.max_usd_per_strike ?? null,
    reductions: [] as string[],
    shared: { system: text.system, tagged: text.tagged, sampling: req.sampling ?? null, tools: req.tools ?? null },
    cache: {
      results: useCache && policy.cache_ttl_s > 0 && policy.cache_max_entries > 0,
      flights: useCache,
      ttl_ms: policy.cache_ttl_s * 1000,
      semantic_threshold: useCache && policy.semantic_cache ? policy.semantic_threshold : null,
    },
  };
}

/** Models the client named, checked before anything is built. */
function checkNamedModels(req: FusionRequest, ctx: PlanContext): PlanResult<never> | null {
  const named: [string | undefined, string][] = [
    [req.model, "model"],
    [req.fusion?.judge_model, "fusion.judge_model"],
    ...(req.fusion?.ensemble_models ?? []).map((m, i): [string, string] => [m, `fusion.ensemble_models.${i}`]),
  ];
  for (const [id, param] of named) {
    if (id === undefined) continue;
    const error = checkModel(ctx, id, param);
    if (error) return { ok: false, status: 400, error };
  }
  return null;
}

/**
 * The covenant's fusion policy without the models the covenant no longer allows: narrowing a
 * covenant's model list must not break every request that a stale map or judge choice touches.
 */
function withAllowedPolicy(ctx: PlanContext): PlanContext {
  const ok = (id: string | undefined) => id !== undefined && checkModel(ctx, id, "") === null;
  const { map_model, reduce_model, judge_model, ensemble_models, ...rest } = ctx.policy;
  const members = ensemble_models?.filter(ok);
  return {
    ...ctx,
    policy: {
      ...rest,
      ...(ok(map_model) ? { map_model } : {}),
      ...(ok(reduce_model) ? { reduce_model } : {}),
      ...(ok(judge_model) ? { judge_model } : {}),
      ...(members && members.length >= 2 ? { ensemble_models: members } : {}),
    },
  };
}

/** The plan before fragment identities are computed: synchronous and pure. */
export function draftPlan(req: FusionRequest, classification: Classification, ctx: PlanContext): PlanResult<DraftPlan> {
  const requested: Requested = req.fusion?.strategy ?? "auto";
  const refused = checkNamedModels(req, ctx);
  if (refused) return refused;
  const text = requestText(req);
  const wholeModel = () => req.model ?? ctx.route(classification);
  const stayWhole = (reason: string): PlanResult<DraftPlan> => ({ ok: true, plan: single(req, text, classification, ctx, requested, reason, wholeModel()) });

  if (requested === "single") return stayWhole("requested");
  if (requested === "auto" && !ctx.policy.auto) return stayWhole("auto: the covenant's fusion policy turns decomposition off");
  if (text.turns > 1 && requested !== "ensemble") return stayWhole(`${requested === "auto" ? "auto" : `${requested} requested`}: a conversation with earlier turns is not decomposed`);
  // Nothing past this point may read the text unless it is within the cap (request.ts).
  if (fusionTextChars(text) > MAX_FUSION_TEXT_CHARS) {
    return stayWhole(`${requested === "auto" ? "auto" : `${requested} requested`}: over ${MAX_FUSION_TEXT_CHARS} characters, a request is not decomposed`);
  }
  // Builders see the policy without stale model choices; a request that stays whole never needs it.
  let pruned: PlanContext | undefined;
  const builderCtx = () => (pruned ??= withAllowedPolicy(ctx));

  const maxFragments = req.fusion?.max_fragments ?? ctx.policy.max_fragments;
  const accept = (r: BuildResult, strategy: FusionStrategy): PlanResult<DraftPlan> => {
    if (!r.ok) return r;
    const { fragments, fuse, reason, reductions } = r.built;
    const price = fragments.reduce((s, f) => s + (f.estimate_usd ?? 0), 0) + ("estimate_usd" in fuse ? (fuse.estimate_usd ?? 0) : 0);
    const plan: DraftPlan = {
      ...common(req, text, ctx, requested),
      strategy,
      reason,
      fragments,
      fuse,
      tolerate_gaps: req.fusion?.tolerate_gaps ?? ctx.policy.tolerate_gaps,
      concurrency: Math.min(ctx.policy.max_concurrency, fragments.length),
      price_usd: price,
      reductions,
    };
    return { ok: true, plan };
  };
  // Auto never fails a request that would have run whole: a plan it cannot afford runs whole instead.
  const orWhole = (r: PlanResult<DraftPlan>): PlanResult<DraftPlan> =>
    requested === "auto" && !r.ok && r.status === 402 ? stayWhole(`auto: ${r.error.message}; running whole instead`) : r;

  const mapReduce = (reason: string, chunkTokens: number) => {
    const r = buildMapReduce(req, text, classification, builderCtx(), { chunkTokens, maxFragments }, reason);
    return r.ok === "single" ? stayWhole(r.reason) : orWhole(accept(r, "map_reduce"));
  };
  const chunkTokens = req.fusion?.chunk_tokens ?? ctx.policy.chunk_tokens;
  const ensemble = (reason: string) =>
    orWhole(
      accept(
        buildEnsemble(req, text, classification, builderCtx(), { ...(req.fusion?.ensemble_models ? { fixed: req.fusion.ensemble_models } : {}), fuse: req.fusion?.ensemble_fuse ?? "auto", ...(req.fusion?.judge_model ? { judgeModel: req.fusion.judge_model } : {}) }, reason),
        "ensemble",
      ),
    );

  switch (requested) {
    case "map_reduce":
      return mapReduce("requested", chunkTokens);
    case "ensemble":
      return ensemble("requested");
    case "split": {
      const tasks = findSubTasks(text.input);
      if (!tasks) return stayWhole("split requested, but the prompt has no independent sub-tasks");
      return accept(buildSplit(req, text, tasks, builderCtx(), maxFragments, "requested"), "split");
    }
    case "auto":
      break;
  }

  const tokens = classification.prompt_tokens;
  const model = wholeModel();
  const context = specOf(ctx, model).contextTokens;
  if (tokens >= ctx.policy.map_reduce_min_tokens) return mapReduce(`auto: ~${tokens} prompt tokens, at or over the covenant's map-reduce threshold of ${ctx.policy.map_reduce_min_tokens}`, chunkTokens);
  if (tokens + req.max_tokens > context) return mapReduce(`auto: ~${tokens} prompt tokens and ${req.max_tokens} to write do not fit ${model}'s context of ${context}`, chunkTokens);
  if (mightHaveSubTasks(text.input)) {
    const tasks = findSubTasks(text.input);
    if (tasks) return orWhole(accept(buildSplit(req, text, tasks, builderCtx(), maxFragments, `auto: ${tasks.items.length} independent sub-tasks (${tasks.kind === "list" ? "a list" : `joined by "also"`})`), "split"));
  }
  if (ctx.policy.ensemble_labels.includes(classification.label) && classification.complexity >= ctx.policy.ensemble_min_complexity) {
    return ensemble(`auto: the covenant runs ${classification.label} requests of complexity ${classification.complexity.toFixed(2)} as an ensemble`);
  }
  return stayWhole("auto: one task");
}

/** Computes every fragment's hash and fingerprint. */
export async function sealPlan(draft: DraftPlan): Promise<FusionPlan> {
  const { sampling, tools } = draft.shared;
  const fragments = await Promise.all(
    draft.fragments.map(async (f) => ({ ...f, ...(await identify({ model: f.model, system: f.system, input: f.input, max_tokens: f.max_tokens, temperature: f.temperature, sampling: sampling ?? undefined, tools: tools ?? undefined })) })),
  );
  return { ...draft, fragments };
}

/** The whole plan: drafted, reduced to the budget or refused, and sealed with identities. */
export async function planFusion(req: FusionRequest, classification: Classification, ctx: PlanContext): Promise<PlanResult> {
  const draft = draftPlan(req, classification, ctx);
  return draft.ok ? { ok: true, plan: await sealPlan(draft.plan) } : draft;
}
