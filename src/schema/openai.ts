import { z } from "@hono/zod-openapi";
import { FusionOptions, FusionReport } from "./fusion";
import { Priority } from "./covenant";
import { MAX_COMPLETION_TOKENS } from "./strike";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });

/** An OpenAI chat message; tool and function fields are accepted and passed over. */
export const OpenAiMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(TextPart), z.null()]).optional(),
  name: z.string().optional(),
});

/**
 * The OpenAI chat-completions request. Loose on purpose: clients send parameters Homeskillet does
 * not use (logit_bias, user, …) and those must not break them. What cannot be honoured is refused.
 */
export const ChatCompletionRequest = z
  .looseObject({
    model: z.string().min(1).max(128).openapi({ description: "A model id, or `auto` to let the covenant choose.", example: "auto" }),
    messages: z.array(OpenAiMessage).min(1).max(256),
    max_tokens: z.number().int().min(1).max(MAX_COMPLETION_TOKENS).nullish(),
    max_completion_tokens: z.number().int().min(1).max(MAX_COMPLETION_TOKENS).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    n: z.literal(1).nullish().openapi({ description: "Only one choice per request is supported." }),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish().openapi({
      description: "Up to four sequences; the answer ends just before the first one, with finish_reason `stop` (applied at the edge, streamed or not).",
    }),
    seed: z.number().int().nullish(),
    user: z.string().nullish(),
    homeskillet: z
      .object({ fusion: FusionOptions.optional(), priority: Priority.optional() })
      .strict()
      .optional()
      .openapi({ description: "Homeskillet's own options (the OpenAI SDKs send unknown body fields as given): fusion and the strike's priority class." }),
  })
  .openapi("ChatCompletionRequest");
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const ChatCompletion = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string().nullable(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({ role: z.literal("assistant"), content: z.string(), refusal: z.null() }),
        finish_reason: z.enum(["stop", "length", "error"]),
        logprobs: z.null(),
      }),
    ),
    usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }),
    homeskillet: z
      .object({
        strike_id: z.string(),
        covenant_id: z.string(),
        pool_id: z.string(),
        allocation_id: z.string(),
        lease_reused: z.boolean(),
        cost_usd: z.number(),
        timings: z.record(z.string(), z.number()),
        fusion: FusionReport.optional(),
      })
      .openapi({ description: "Homeskillet's extras; strict OpenAI clients ignore unknown fields." }),
  })
  .openapi("ChatCompletion");
export type ChatCompletion = z.infer<typeof ChatCompletion>;

export const OpenAiError = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .openapi("OpenAiError");
