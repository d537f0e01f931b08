import { z } from "@hono/zod-openapi";
import { ModelRoute } from "./classification";
import { FusionPolicy } from "./fusion";
import { CovenantId } from "./common";
import { CovenantLimits } from "./tenancy";

/** Fallback targets: a Hosted.AI pool id, or `local` for the tunnelled local node. */
export const FallbackTarget = z
  .string()
  .regex(/^(local|[a-z0-9][a-z0-9-]{0,63})$/, "a pool id (e.g. standard-us-east) or `local`");

/** What a covenant gets for every field its tenant leaves out. */
export const COVENANT_DEFAULTS = {
  qos: { latency_slo_ms: 2_000, ttft_slo_ms: null, tpot_slo_ms: null, priority: "normal", preemptible_ok: true, continue_streams: true, pool_type: "recommended" },
  cost: { on_limit: "reject", pricier_fallback: true },
  lease: { duration_s: 900, idle_timeout_s: 0, max_leases: 32, max_warm_leases: 4, max_concurrency: 4, isolation: "shared", share_delay_ms: 100, warm_ahead: "off" },
  cache: { mode: "deterministic", ttl_s: 300, semantic: false, semantic_threshold: 0.9, max_entries: 1024 },
  policy: "homeskillet",
} as const;

export const Priority = z.enum(["low", "normal", "high", "critical"]);
export type Priority = z.infer<typeof Priority>;

const Usd = z.number().finite().nonnegative();

export const CovenantResources = z
  .object({
    min_tflops: z.number().positive().max(10_000).optional(),
    min_vram_mb: z.number().int().positive().max(1_048_576).optional(),
    max_vram_mb: z.number().int().positive().max(1_048_576).optional(),
  })
  .strict()
  .refine((r) => r.min_vram_mb === undefined || r.max_vram_mb === undefined || r.min_vram_mb <= r.max_vram_mb, {
    path: ["max_vram_mb"],
    message: "max_vram_mb must be at least min_vram_mb",
  });

export const CovenantQos = z
  .object({
    latency_slo_ms: z.number().int().min(50).max(600_000).optional().openapi({
      description: "End to end: a strike meets its SLO when it answered within this many ms (and within the TTFT and TPOT bounds, where set).",
      default: COVENANT_DEFAULTS.qos.latency_slo_ms,
    }),
    ttft_slo_ms: z.number().int().min(1).max(600_000).nullable().optional().openapi({
      description: "Time to first token, ms from arrival. `null`: no bound.",
      default: COVENANT_DEFAULTS.qos.ttft_slo_ms,
    }),
    tpot_slo_ms: z.number().min(0.1).max(60_000).nullable().optional().openapi({
      description: "Time per output token after the first, ms. `null`: no bound.",
      default: COVENANT_DEFAULTS.qos.tpot_slo_ms,
    }),
    priority: Priority.optional().openapi({ default: COVENANT_DEFAULTS.qos.priority }),
    preemptible_ok: z.boolean().optional().openapi({ default: COVENANT_DEFAULTS.qos.preemptible_ok }),
    continue_streams: z.boolean().optional().openapi({
      description:
        "A stream whose upstream fails after output began is continued by the next target of the fallback chain from the text already sent, instead of ending with an error.",
      default: COVENANT_DEFAULTS.qos.continue_streams,
    }),
    pool_type: z.enum(["recommended", "any"]).optional().openapi({
      description: "recommended: each model runs on the pool type the model matrix gives it (standard, premium, dedicated); any: the policy may place it on any pool type that fits.",
      default: COVENANT_DEFAULTS.qos.pool_type,
    }),
  })
  .strict();

export const CovenantCost = z
  .object({
    max_usd_per_strike: Usd.max(1_000).optional(),
    budget_usd_per_day: Usd.max(1_000_000).optional(),
    /** What to do when a limit would be passed: refuse with 402, or fall back to a cheaper allowed model. */
    on_limit: z.enum(["reject", "degrade"]).optional().openapi({ default: COVENANT_DEFAULTS.cost.on_limit }),
    /** Whether a strike may fall back to a pool that costs more than its first choice. */
    pricier_fallback: z.boolean().optional().openapi({ default: COVENANT_DEFAULTS.cost.pricier_fallback }),
  })
  .strict();

export const LeasePolicy = z
  .object({
    /** How long each allocation is asked for; a lease is renewed by a fresh allocation before it expires. */
    duration_s: z.number().int().min(60).max(86_400).optional().openapi({ default: COVENANT_DEFAULTS.lease.duration_s }),
    /** A lease nobody used for this long is released (unless the warm pool still wants it). */
    idle_timeout_s: z.number().int().min(0).max(3_600).optional().openapi({ default: COVENANT_DEFAULTS.lease.idle_timeout_s }),
    /** The most leases held at once, warm or busy. */
    max_leases: z.number().int().min(1).max(256).optional().openapi({ default: COVENANT_DEFAULTS.lease.max_leases }),
    /** The most leases kept warm ahead of demand. */
    max_warm_leases: z.number().int().min(0).max(64).optional().openapi({ default: COVENANT_DEFAULTS.lease.max_warm_leases }),
    /** Strikes one allocation serves at once (continuous batching on the slice). */
    max_concurrency: z.number().int().min(1).max(64).optional().openapi({ default: COVENANT_DEFAULTS.lease.max_concurrency }),
    /** Complete isolation: every strike on an allocation of its own, never shared, never reused. */
    isolation: z.enum(["shared", "per_strike"]).optional().openapi({
      description: "per_strike: every strike gets its own allocation, released when it ends (never shared, never reused), and pays for all of it.",
      default: COVENANT_DEFAULTS.lease.isolation,
    }),
    share_delay_ms: z.number().int().min(0).max(600_000).optional().openapi({
      description:
        "How much later than on a slice of its own (after allocating one) a strike may be predicted to finish when it shares a busy slice instead. 0: share only when no slower; sharing never breaks the SLOs.",
      default: COVENANT_DEFAULTS.lease.share_delay_ms,
    }),
    warm_ahead: z.enum(["off", "burst"]).optional().openapi({
      description: "burst: when arrivals pick up, allocate leases ahead of the strikes (up to max_warm_leases) and give them back at the end of a billed second once the burst is over.",
      default: COVENANT_DEFAULTS.lease.warm_ahead,
    }),
  })
  .strict();

export const CovenantCache = z
  .object({
    mode: z.enum(["off", "deterministic", "always"]).optional().openapi({
      description: "Caching of plain strikes' answers: off; deterministic (temperature 0 only); always (any temperature: the covenant accepts repeated answers).",
      default: COVENANT_DEFAULTS.cache.mode,
    }),
    ttl_s: z.number().int().min(1).max(86_400).optional().openapi({ default: COVENANT_DEFAULTS.cache.ttl_s }),
    semantic: z.boolean().optional().openapi({ description: "Also answer near-duplicates of a cached request.", default: COVENANT_DEFAULTS.cache.semantic }),
    semantic_threshold: z.number().min(0.5).max(1).optional().openapi({ default: COVENANT_DEFAULTS.cache.semantic_threshold }),
    max_entries: z.number().int().min(1).max(100_000).optional().openapi({ default: COVENANT_DEFAULTS.cache.max_entries }),
  })
  .strict();

export const CovenantLogging = z
  .object({
    content: z.boolean().optional().openapi({
      description: "Log each strike's prompt and completion (one `strike_content` line per strike, truncated to 4 KiB each). Off by default: log lines never carry prompt text otherwise.",
      default: false,
    }),
  })
  .strict();

/**
 * A covenant's limits as a create or patch body gives them: each field merges on its own, and
 * `null` removes that limit (`"limits": null` removes them all). Requests and tokens are token
 * buckets over a minute; `max_concurrent` counts strikes running at once (see README, Limits).
 */
export const CovenantLimitsChange = z
  .object({
    requests_per_minute: CovenantLimits.shape.requests_per_minute.unwrap().nullable().optional().openapi({
      description: "Strikes per minute: a burst of this many, then this many per minute. `null` removes the limit.",
    }),
    tokens_per_minute: CovenantLimits.shape.tokens_per_minute.unwrap().nullable().optional().openapi({
      description: "Prompt + max_tokens reserved per strike, settled to what it used. `null` removes the limit.",
    }),
    max_concurrent: CovenantLimits.shape.max_concurrent.unwrap().nullable().optional().openapi({
      description: "Strikes running at once under this covenant. `null` removes the limit.",
    }),
  })
  .strict();
export type CovenantLimitsChange = z.infer<typeof CovenantLimitsChange>;

const CovenantFields = {
  models: z.array(z.string().min(1).max(128)).min(1).max(64).optional().openapi({
    description: "Models this covenant may run; all known models when absent.",
  }),
  default_model: z.string().min(1).max(128).optional(),
  resources: CovenantResources.optional(),
  qos: CovenantQos.optional(),
  cost: CovenantCost.optional(),
  fallback: z.array(FallbackTarget).max(16).optional().openapi({
    description: "Where to run, in order: pool ids and `local`. Empty or absent: the policy chooses.",
  }),
  lease: LeasePolicy.optional(),
  fusion: FusionPolicy.optional().openapi({ description: "How this covenant plans fused strikes; defaults when absent." }),
  routes: z.array(ModelRoute).max(64).optional().openapi({
    description: "How a strike that names no model is routed by its classification, first match wins; absent: Homeskillet's default routes; empty: always `default_model`.",
  }),
  logging: CovenantLogging.optional(),
  cache: CovenantCache.optional().openapi({ description: "Caching of plain strikes' answers, per tenant and covenant; defaults when absent." }),
  limits: CovenantLimitsChange.nullable().optional().openapi({
    description: "Rate and concurrency limits on every strike under this covenant, whoever sends it; none when absent.",
  }),
  policy: z.enum(["homeskillet", "seed"]).optional().openapi({
    description: "Allocation policy: `homeskillet` (leases, warm pool, cheapest fitting pool) or `seed` (the baseline rule: a fresh allocation per strike).",
  }),
};

export const CovenantCreate = z
  .object({ id: CovenantId.optional(), ...CovenantFields })
  .strict()
  .openapi("CovenantCreate");
export type CovenantCreate = z.infer<typeof CovenantCreate>;

export const CovenantPatch = z.object(CovenantFields).strict().openapi("CovenantPatch");
export type CovenantPatch = z.infer<typeof CovenantPatch>;

/** A covenant with every default filled in: what the covenant object enforces. */
export const CovenantContract = z
  .object({
    id: CovenantId,
    models: z.array(z.string()),
    default_model: z.string(),
    resources: z.object({ min_tflops: z.number().optional(), min_vram_mb: z.number().optional(), max_vram_mb: z.number().optional() }),
    qos: z.object({
      latency_slo_ms: z.number(),
      ttft_slo_ms: z.number().nullable(),
      tpot_slo_ms: z.number().nullable(),
      priority: Priority,
      preemptible_ok: z.boolean(),
      continue_streams: z.boolean(),
      pool_type: z.enum(["recommended", "any"]),
    }),
    cost: z.object({
      max_usd_per_strike: z.number().optional(),
      budget_usd_per_day: z.number().optional(),
      on_limit: z.enum(["reject", "degrade"]),
      pricier_fallback: z.boolean(),
    }),
    fallback: z.array(z.string()),
    lease: z.object({
      duration_s: z.number(),
      idle_timeout_s: z.number(),
      max_leases: z.number(),
      max_warm_leases: z.number(),
      max_concurrency: z.number(),
      isolation: z.enum(["shared", "per_strike"]),
      share_delay_ms: z.number(),
      warm_ahead: z.enum(["off", "burst"]),
    }),
    cache: z.object({ mode: z.enum(["off", "deterministic", "always"]), ttl_s: z.number(), semantic: z.boolean(), semantic_threshold: z.number(), max_entries: z.number() }),
    routes: z.array(ModelRoute).optional(),
    fusion: FusionPolicy.optional(),
    logging: z.object({ content: z.boolean().optional() }).optional(),
    limits: CovenantLimits.optional(),
    policy: z.enum(["homeskillet", "seed"]),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Covenant");
export type CovenantContract = z.infer<typeof CovenantContract>;

export const LeaseView = z
  .object({
    lease_id: z.string(),
    allocation_id: z.string(),
    pool_id: z.string(),
    model: z.string(),
    state: z.enum(["warm", "busy", "draining", "releasing"]),
    in_flight: z.number().int(),
    strikes_served: z.number().int(),
    utilization: z.number().openapi({ description: "Busy seconds ÷ held seconds, 0..1." }),
    expires_at: z.string(),
    idle_since: z.string().nullable(),
  })
  .openapi("Lease");

export const CovenantStatus = z
  .object({
    covenant: CovenantContract,
    leases: z.array(LeaseView),
    queue_depth: z.number().int(),
    breakers: z.array(
      z.object({
        target: z.string(),
        state: z.enum(["closed", "open", "half_open"]),
        consecutive_failures: z.number().int(),
        open_until: z.string().nullable(),
        last_failure: z.string().nullable(),
      }),
    ),
    in_flight: z.number().int(),
    spend_today_usd: z.number(),
    reserved_usd: z.number(),
  })
  .openapi("CovenantStatus");
export type CovenantStatus = z.infer<typeof CovenantStatus>;

const UsageLine = z.object({
  key: z.string(),
  strikes: z.number().int(),
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  cost_usd: z.number(),
  allocation_seconds: z.number(),
  usd_per_1k_tokens: z.number().nullable().openapi({
    description: "cost_usd per thousand tokens (prompt and completion) of this line: what its pool or model cost per unit of work, idle lease time included. null when the line processed no tokens.",
  }),
});

export const CovenantUsage = z
  .object({
    covenant_id: z.string(),
    from: z.string(),
    to: z.string(),
    total_usd: z.number(),
    strikes: z.number().int(),
    by_model: z.array(UsageLine),
    by_pool: z.array(UsageLine),
  })
  .openapi("CovenantUsage");
export type CovenantUsage = z.infer<typeof CovenantUsage>;

export const UsageQuery = z.object({
  from: z.string().datetime({ offset: true }).optional().openapi({ description: "ISO 8601; start of today (UTC) when absent." }),
  to: z.string().datetime({ offset: true }).optional().openapi({ description: "ISO 8601; now when absent." }),
});
