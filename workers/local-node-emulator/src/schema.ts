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

/** OpenAI's limit on function names (tools[].function.name, json_schema.name). */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const FunctionName = z.string().regex(FUNCTION_NAME, { error: "must be 1 to 64 letters, digits, underscores or dashes" });

/** A call an assistant made, as the client sends it back: arguments are JSON text. */
const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

export const ChatMessage = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  // mlx_lm.server reads a missing or null content (e.g. an assistant turn with tool calls) as "".
  content: MessageContent.nullish(),
  name: z.string().nullish(),
  tool_calls: z.array(ToolCall).nullish(),
  tool_call_id: z.string().min(1).nullish(),
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

export const Tool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: FunctionName,
    description: z.string().nullish(),
    /** JSON Schema of the arguments; absent: the function takes none. */
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});
export type Tool = z.infer<typeof Tool>;

export const ToolChoice = z.union(
  [
    z.enum(["none", "auto", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: z.string().min(1) }) }),
  ],
  { error: 'expected "none", "auto", "required" or {"type": "function", "function": {"name": …}}' },
);

export const ResponseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: FunctionName,
      description: z.string().nullish(),
      schema: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const ChatCompletionRequest = z.object({
  messages: z.array(ChatMessage).min(1),
  ...GenerationOptions,
  tools: z.array(Tool).max(128).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormat.nullish(),
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

/**
 * The prompt as the device sees it, for counting tokens: one "role: text" line per message, with
 * the calls an assistant made; then the functions offered, as a template lists them.
 */
export function flattenMessages(messages: readonly ChatMessage[], tools: readonly Tool[] = []): string {
  const lines = messages.map((m) => {
    const calls = m.tool_calls?.length ? ` ${JSON.stringify(m.tool_calls.map((c) => c.function))}` : "";
    return `${m.role}: ${messageText(m)}${calls}`;
  });
  if (tools.length > 0) lines.push(`tools: ${JSON.stringify(tools.map((t) => t.function))}`);
  return lines.join("\n");
}
