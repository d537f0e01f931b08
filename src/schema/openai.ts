import { z } from "@hono/zod-openapi";
import { FusionReport } from "./fusion";
import { StrikeCache } from "./strike";

export { ChatCompletionRequest, ChatTool, OpenAiMessage } from "./openai-chat";

export const ChatToolCall = z
  .object({ id: z.string(), type: z.literal("function"), function: z.object({ name: z.string(), arguments: z.string().openapi({ description: "JSON text, validated against the tool's parameters schema." }) }) })
  .openapi("ChatToolCall");

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
        message: z.object({
          role: z.literal("assistant"),
          content: z.string().nullable(),
          refusal: z.null(),
          tool_calls: z.array(ChatToolCall).optional(),
        }),
        finish_reason: z.enum(["stop", "length", "tool_calls", "error"]),
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
        cache: StrikeCache.optional(),
      })
      .openapi({ description: "Homeskillet's extras; strict OpenAI clients ignore unknown fields." }),
  })
  .openapi("ChatCompletion");
export type ChatCompletion = z.infer<typeof ChatCompletion>;

export const OpenAiError = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .openapi("OpenAiError");
