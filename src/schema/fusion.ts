import { z } from "@hono/zod-openapi";
import { TaskLabel } from "./classification";

/**
 * Fusion: a request split into fragments that run in parallel and are recombined. These schemas
 * are the request extension (`fusion` on a strike), the covenant's fusion policy, and the plan and
 * report returned with a fused answer.
 */
export const FUSION_STRATEGIES = ["single", "split", "map_reduce", "ensemble"] as const;
export const FusionStrategy = z.enum(FUSION_STRATEGIES);
export type FusionStrategy = z.infer<typeof FusionStrategy>;

const ModelId = z.string().min(1).max(128);

export const FusionOptions = z
  .object({
    strategy: z.enum(["auto", ...FUSION_STRATEGIES]).optional().openapi({
      description: "`auto` (default) chooses from the request's classification and size; the others force a strategy.",
    }),
    ensemble_models: z
      .array(ModelId)
      .min(2)
      .max(7)
      .refine((ms) => new Set(ms).size === ms.length, { message: "ensemble_models must not repeat a model" })
      .optional()
      .openapi({ description: "Models for an ensemble; never dropped to fit a budget (the plan is refused instead)." }),
    ensemble_fuse: z.enum(["auto", "vote", "judge"]).optional().openapi({
      description: "How ensemble answers are fused: majority vote (short answers), a judge model (long ones), or chosen from the expected answer length.",
    }),
    judge_model: ModelId.optional(),
    tolerate_gaps: z.boolean().optional().openapi({
      description: "Whether a fused answer may go out with a part missing (saying which); false fails the whole request instead.",
    }),
    max_fragments: z.number().int().min(1).max(32).optional(),
    chunk_tokens: z.number().int().min(256).max(32_768).optional().openapi({ description: "Target size of a map-reduce chunk." }),
    cache: z.boolean().optional().openapi({ description: "false: neither read nor fill the result caches for this request." }),
  })
  .strict()
  .openapi("FusionOptions");
export type FusionOptions = z.infer<typeof FusionOptions>;

/** What a covenant's fusion policy is when its tenant says nothing. */
export const FUSION_DEFAULTS = {
  auto: true,
  max_fragments: 8,
  max_concurrency: 4,
  map_reduce_min_tokens: 6_000,
  chunk_tokens: 1_500,
  map_max_tokens: 256,
  ensemble_size: 3,
  ensemble_labels: [] as TaskLabel[],
  ensemble_min_complexity: 0.5,
  vote_max_tokens: 32,
  tolerate_gaps: true,
  cache_ttl_s: 300,
  cache_max_entries: 512,
  semantic_cache: false,
  semantic_threshold: 0.9,
};

export const FusionPolicy = z
  .object({
    auto: z.boolean().optional().openapi({ default: FUSION_DEFAULTS.auto, description: "false: `auto` always means `single`." }),
    max_fragments: z.number().int().min(1).max(32).optional().openapi({ default: FUSION_DEFAULTS.max_fragments }),
    max_concurrency: z.number().int().min(1).max(32).optional().openapi({ default: FUSION_DEFAULTS.max_concurrency }),
    map_reduce_min_tokens: z.number().int().min(512).max(1_000_000).optional().openapi({
      default: FUSION_DEFAULTS.map_reduce_min_tokens,
      description: "Prompts this long (estimated tokens) or longer than the routed model's context are map-reduced.",
    }),
    chunk_tokens: z.number().int().min(256).max(32_768).optional().openapi({ default: FUSION_DEFAULTS.chunk_tokens }),
    map_max_tokens: z.number().int().min(16).max(4_096).optional().openapi({ default: FUSION_DEFAULTS.map_max_tokens }),
    map_model: ModelId.optional(),
    reduce_model: ModelId.optional(),
    judge_model: ModelId.optional(),
    ensemble_models: z.array(ModelId).min(2).max(7).optional(),
    ensemble_size: z.number().int().min(2).max(7).optional().openapi({ default: FUSION_DEFAULTS.ensemble_size }),
    ensemble_labels: z.array(TaskLabel).max(7).optional().openapi({
      description: "Labels for which `auto` runs an ensemble (when complexity reaches ensemble_min_complexity). None by default.",
    }),
    ensemble_min_complexity: z.number().min(0).max(1).optional().openapi({ default: FUSION_DEFAULTS.ensemble_min_complexity }),
    vote_max_tokens: z.number().int().min(1).max(1_024).optional().openapi({ default: FUSION_DEFAULTS.vote_max_tokens }),
    tolerate_gaps: z.boolean().optional().openapi({ default: FUSION_DEFAULTS.tolerate_gaps }),
    cache_ttl_s: z.number().int().min(0).max(86_400).optional().openapi({ default: FUSION_DEFAULTS.cache_ttl_s }),
    cache_max_entries: z.number().int().min(0).max(100_000).optional().openapi({ default: FUSION_DEFAULTS.cache_max_entries }),
    semantic_cache: z.boolean().optional().openapi({ default: FUSION_DEFAULTS.semantic_cache }),
    semantic_threshold: z.number().min(0.5).max(1).optional().openapi({
      default: FUSION_DEFAULTS.semantic_threshold,
      description: "Estimated Jaccard similarity (MinHash over character 5-grams) at which a cached answer is reused.",
    }),
  })
  .strict()
  .openapi("FusionPolicy");
export type FusionPolicy = z.infer<typeof FusionPolicy>;

export const FragmentRole = z.enum(["whole", "part", "map", "reduce", "member", "judge"]);
export type FragmentRole = z.infer<typeof FragmentRole>;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const PlannedFragmentView = z.object({
  id: z.string(),
  role: FragmentRole,
  title: z.string(),
  model: z.string(),
  label: TaskLabel.nullable(),
  prompt_tokens: z.number().int().nonnegative(),
  max_tokens: z.number().int().positive(),
  hash: Hex64.openapi({ description: "SHA-256 identity: model, normalised input, system prompt, tools and sampling parameters." }),
  fingerprint: Hex64.openapi({ description: "SHA-256 of the normalised input alone: the same content under any model." }),
  span: z.object({ start: z.number().int(), end: z.number().int() }).nullable().openapi({ description: "Map chunks: character offsets in the prompt." }),
  estimate_usd: z.number().nullable(),
});
export type PlannedFragmentView = z.infer<typeof PlannedFragmentView>;

export const FuseKind = z.enum(["none", "concat", "reduce", "vote", "judge"]);
export type FuseKind = z.infer<typeof FuseKind>;

export const FusionPlanView = z
  .object({
    strategy: FusionStrategy,
    requested: z.enum(["auto", ...FUSION_STRATEGIES]),
    reason: z.string(),
    fragments: z.array(PlannedFragmentView),
    fuse: z.object({ kind: FuseKind, model: z.string().nullable(), estimate_usd: z.number().nullable() }),
    tolerate_gaps: z.boolean(),
    concurrency: z.number().int().positive(),
    price_usd: z.number().nullable().openapi({ description: "The whole plan priced before it ran; null for `single` (its strike is priced by the covenant as usual)." }),
    limit_usd: z.number().nullable(),
    reductions: z.array(z.string()).openapi({ description: "What was cut to fit max_usd_per_strike." }),
  })
  .openapi("FusionPlan");
export type FusionPlanView = z.infer<typeof FusionPlanView>;

export const CacheOutcome = z.enum(["miss", "hit", "semantic", "shared"]).openapi({
  description: "miss: computed; hit: the tenant's result cache; semantic: a near-duplicate's cached answer; shared: an identical fragment in flight.",
});
export type CacheOutcome = z.infer<typeof CacheOutcome>;

export const FragmentReport = z
  .object({
    id: z.string(),
    role: FragmentRole,
    title: z.string(),
    model: z.string(),
    pool_id: z.string().nullable(),
    allocation_id: z.string().nullable(),
    status: z.enum(["ok", "failed", "skipped"]),
    cache: CacheOutcome,
    similarity: z.number().optional(),
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    cost_usd: z.number().openapi({ description: "Spent by this request: 0 for cache hits and shared flights." }),
    latency_ms: z.number(),
    started_ms: z.number().openapi({ description: "Ms after the plan started." }),
    hash: Hex64,
    fingerprint: Hex64,
    error: z.object({ type: z.string(), message: z.string() }).optional(),
  })
  .openapi("FusionFragment");
export type FragmentReport = z.infer<typeof FragmentReport>;

export const FusionTotals = z.object({
  fragments: z.number().int(),
  ok: z.number().int(),
  failed: z.number().int(),
  cache_hits: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  cost_usd: z.number(),
  wall_ms: z.number(),
  serial_ms: z.number().openapi({ description: "Sum of fragment latencies: what running them one after another would have taken." }),
});
export type FusionTotals = z.infer<typeof FusionTotals>;

export const FusionGap = z.object({ fragment_id: z.string(), title: z.string(), reason: z.string() });
export type FusionGap = z.infer<typeof FusionGap>;

export const FusionReport = z
  .object({
    plan: FusionPlanView,
    fragments: z.array(FragmentReport),
    fused_by: z.object({ kind: FuseKind, model: z.string().nullable(), agreement: z.string().optional(), note: z.string().optional() }),
    gaps: z.array(FusionGap).openapi({ description: "Fragments whose results are missing from the answer, and why." }),
    totals: FusionTotals,
  })
  .openapi("FusionReport");
export type FusionReport = z.infer<typeof FusionReport>;

/** What a streaming client is told as fragments start and finish. */
export const FusionProgress = z.discriminatedUnion("type", [
  z.object({ type: z.literal("fragment_started"), id: z.string(), role: FragmentRole, model: z.string(), index: z.number().int(), total: z.number().int() }),
  z.object({
    type: z.literal("fragment_finished"),
    id: z.string(),
    status: z.enum(["ok", "failed", "skipped"]),
    cache: CacheOutcome,
    latency_ms: z.number(),
    done: z.number().int(),
    total: z.number().int(),
  }),
]);
export type FusionProgress = z.infer<typeof FusionProgress>;
