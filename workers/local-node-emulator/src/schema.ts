// Request bodies the node accepts. Unknown fields are ignored, as OpenAI-compatible servers do,
// and `null` means "not given" because several OpenAI clients send explicit nulls.
import { z } from "zod";

export const MAX_TOKENS_LIMIT = 32768;

const TextPart = z.object({
  type: z.literal("text"),
  text: z.string(),
});

const MessageContent = z.union([z.string(), z.array(TextPart)], {
  error: "expected a string or an array of {type: \"text\", text} parts",
});

export const ChatMessage = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  // mlx_lm.server reads a missing or null content (e.g. an assistant turn with tool calls) as "".
  content: MessageContent.nullish(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

const TokenLimit = z.int().min(1).max(MAX_TOKENS_LIMIT);

/** Sampling and streaming options shared by chat and legacy text completions. */
const GenerationOptions = {
  model: z.string().min(1).nullish(),
  max_tokens: TokenLimit.nullish(),
  max_completion_tokens: TokenLimit.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)], { error: "expected a string or an array of up to 4 strings" }).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
};

export const ChatCompletionRequest = z.object({
  messages: z.array(ChatMessage).min(1),
  ...GenerationOptions,
  // vLLM's (and SGLang's) names for prefill: continue the last (assistant) message instead of
  // answering after it. llama.cpp's server does so for a trailing assistant message unasked.
  continue_final_message: z.boolean().nullish(),
  add_generation_prompt: z.boolean().nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const TextCompletionRequest = z.object({
  prompt: z.union([z.string(), z.array(z.string()).min(1)], { error: "expected a string or an array of strings" }),
  ...GenerationOptions,
});
export type TextCompletionRequest = z.infer<typeof TextCompletionRequest>;

export const AdminConfigRequest = z.object({
  latency_scale: z.number().min(0).max(1000),
});

/** Text of one message, with multi-part content joined as mlx_lm.server does. */
export function messageText(message: ChatMessage): string {
  const content = message.content;
  if (content === null || content === undefined) return "";
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

/** The prompt as the device sees it, for counting tokens: one "role: text" line per message. */
export function flattenMessages(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${messageText(m)}`).join("\n");
}
