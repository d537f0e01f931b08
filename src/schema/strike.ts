import { z } from "@hono/zod-openapi";
import { Classification } from "./classification";
import { FusionOptions, FusionReport } from "./fusion";
import { ChatMessage, exactlyOneOfMessagesOrPrompt } from "./messages";
import { CovenantId } from "./common";
import { Priority } from "./covenant";

/** Largest completion any model in the matrix is asked for; guards the emulated and real GPUs alike. */
export const MAX_COMPLETION_TOKENS = 8192;

export const StrikeRequest = z
  .object({
    covenant_id: CovenantId.optional().openapi({ description: "Covenant to run under; the tenant's `default` when absent." }),
    model: z.string().min(1).max(128).optional().openapi({ example: "mistral-7b" }),
    messages: z.array(ChatMessage).min(1).max(256).optional(),
    prompt: z.string().min(1).optional(),
    max_tokens: z.number().int().min(1).max(MAX_COMPLETION_TOKENS).default(256),
    temperature: z.number().min(0).max(2).default(0.7),
    latency_sensitive: z.boolean().default(false),
    fusion: FusionOptions.optional().openapi({
      description: "Split, map-reduce or ensemble the request into fragments that run in parallel and are fused (`strategy: auto` lets the covenant decide).",
    }),
    priority: Priority.optional().openapi({
      description: "Priority class of this strike; at most the covenant's own (its default). Decides the order queued strikes resume in.",
    }),
  })
  .strict()
  .superRefine(exactlyOneOfMessagesOrPrompt)
  .openapi("StrikeRequest");
export type StrikeRequest = z.infer<typeof StrikeRequest>;

export const Usage = z
  .object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() })
  .openapi("Usage");
export type Usage = z.infer<typeof Usage>;

export const StrikeTimings = z
  .object({
    classify_ms: z.number(),
    queue_ms: z.number(),
    allocate_ms: z.number(),
    infer_ms: z.number(),
    release_ms: z.number(),
    total_ms: z.number(),
  })
  .openapi("StrikeTimings", { description: "Where the strike's time went, in milliseconds." });
export type StrikeTimings = z.infer<typeof StrikeTimings>;

export const StrikeCache = z
  .object({
    status: z.enum(["hit", "semantic", "miss"]).openapi({
      description: "hit: the same request's cached answer; semantic: a near-duplicate's; miss: looked up, not found, run (and its answer kept).",
    }),
    similarity: z.number().optional().openapi({ description: "semantic: the estimated similarity of the last user turns (0..1)." }),
    source_strike_id: z.string().optional().openapi({ description: "The strike whose answer this is." }),
    age_s: z.number().optional().openapi({ description: "How old the cached answer is, in seconds." }),
    saved_usd: z.number().optional().openapi({ description: "What the original inference cost: what this answer did not cost again." }),
    saved_tokens: z.number().int().optional().openapi({ description: "The original inference's prompt + completion tokens." }),
  })
  .openapi("StrikeCache", {
    description:
      "The covenant's answer cache and this strike: present when it was consulted (a plain strike the covenant's `cache` allows). A hit ran nothing upstream: its cost and usage are zero, its pool and allocation `cache`.",
  });
export type StrikeCache = z.infer<typeof StrikeCache>;

export const StrikeResponse = z
  .object({
    id: z.string().openapi({ example: "str_5f0c0e4a9d2b41c7" }),
    object: z.literal("strike"),
    created: z.number().int(),
    covenant_id: z.string(),
    model: z.string().openapi({ description: "The model that answered; for a fused strike, the one that wrote the fused answer (reduce or judge step), else the last fragment that answered." }),
    pool_id: z.string().openapi({ description: "The pool the strike ran on; `fused` for a fused strike, whose fragments name their own in `fusion.fragments`." }),
    allocation_id: z.string().openapi({ description: "The Hosted.AI allocation (or `local`); `fused` for a fused strike." }),
    classification: Classification.openapi({ description: "The edge classifier's reading of the request." }),
    model_reason: z.string().openapi({ description: "Why this model: named in the request, or the covenant route that matched." }),
    lease_reused: z.boolean().openapi({ description: "Whether the strike ran on a warm lease rather than a new allocation." }),
    degraded_from: z.string().optional().openapi({ description: "The model asked for, when a cost limit moved the strike to a cheaper one." }),
    output: z.object({
      role: z.literal("assistant"),
      content: z.string(),
      tool_calls: z
        .array(z.object({ id: z.string(), type: z.literal("function"), function: z.object({ name: z.string(), arguments: z.string() }) }))
        .optional()
        .openapi({ description: "Tool calls of an agent turn (OpenAI API requests with tools)." }),
    }),
    finish_reason: z.enum(["stop", "length", "tool_calls"]),
    usage: Usage,
    cost_usd: z.number().openapi({ description: "Allocation seconds × pool price, as billed by the upstream." }),
    timings: StrikeTimings,
    fusion: FusionReport.optional().openapi({ description: "For a fused strike: the plan, every fragment, the gaps and the totals." }),
    cache: StrikeCache.optional(),
  })
  .openapi("Strike");
export type StrikeResponse = z.infer<typeof StrikeResponse>;
