// Response bodies in the exact shapes mlx_lm.server produces, plus `logprobs: null` on each
// choice as OpenAI's API has it.

/** mlx_lm reports "<mlx_lm>-<mlx>-<platform>-<gpu arch>"; this is a typical Apple-silicon value. */
export const SYSTEM_FINGERPRINT = "0.28.3-0.29.2-macOS-15.6.1-arm64-arm-64bit-applegpu_g15s";

export type FinishReason = "stop" | "length" | "tool_calls";

/** A call as OpenAI's API returns it. */
export interface ToolCallOut {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What every body of one response shares: its id, creation time and the model that served it. */
export interface ResponseIdentity {
  id: string;
  created: number;
  model: string;
}

export function newIdentity(kind: "chat" | "text", model: string, now: number): ResponseIdentity {
  const prefix = kind === "chat" ? "chatcmpl" : "cmpl";
  return { id: `${prefix}-${crypto.randomUUID()}`, created: Math.floor(now / 1000), model };
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

function envelope(identity: ResponseIdentity, object: string) {
  return {
    id: identity.id,
    system_fingerprint: SYSTEM_FINGERPRINT,
    object,
    model: identity.model,
    created: identity.created,
  };
}

export function chatCompletion(identity: ResponseIdentity, content: string, finishReason: FinishReason, usage: Usage) {
  return {
    ...envelope(identity, "chat.completion"),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, tool_calls: [] },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
    usage,
  };
}

/**
 * An answer that calls functions, as OpenAI's API gives it: `content` null, the calls in
 * `tool_calls`, `finish_reason` "tool_calls" (or "length" when max_tokens cut it short).
 */
export function chatToolCallCompletion(identity: ResponseIdentity, calls: readonly ToolCallOut[], finishReason: FinishReason, usage: Usage) {
  return {
    ...envelope(identity, "chat.completion"),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: null, tool_calls: calls },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
    usage,
  };
}

/**
 * Streamed calls, in OpenAI's chunk shapes exactly: each call opens with a chunk carrying its
 * `index`, `id`, `type` and `function.name` with empty `arguments` (the first also the role and
 * null content); then chunks with pieces of `function.arguments` under the same `index`.
 */
export function toolCallHeaderChunk(identity: ResponseIdentity, index: number, call: { id: string; name: string }) {
  const head = { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } };
  const delta = index === 0 ? { role: "assistant", content: null, tool_calls: [head] } : { tool_calls: [head] };
  return { ...envelope(identity, "chat.completion.chunk"), choices: [{ index: 0, delta, finish_reason: null, logprobs: null }] };
}

export function toolCallArgumentsChunk(identity: ResponseIdentity, index: number, piece: string) {
  return {
    ...envelope(identity, "chat.completion.chunk"),
    choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, finish_reason: null, logprobs: null }],
  };
}

/** The last chunk of a streamed tool-call answer: an empty delta and the finish reason. */
export function toolCallFinishChunk(identity: ResponseIdentity, finishReason: FinishReason) {
  return { ...envelope(identity, "chat.completion.chunk"), choices: [{ index: 0, delta: {}, finish_reason: finishReason, logprobs: null }] };
}

/** One streamed piece; mlx_lm repeats the role in every delta, and sends "" content at the end. */
export function chatCompletionChunk(identity: ResponseIdentity, content: string, finishReason: FinishReason | null) {
  return {
    ...envelope(identity, "chat.completion.chunk"),
    choices: [
      {
        index: 0,
        delta: { role: "assistant", content, tool_calls: [] },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
  };
}

/** Sent after the finishing chunk when stream_options.include_usage is set (object as mlx_lm has it). */
export function chatUsageChunk(identity: ResponseIdentity, usage: Usage) {
  return { ...envelope(identity, "chat.completion"), choices: [], usage };
}

export function textCompletion(identity: ResponseIdentity, text: string, finishReason: FinishReason, usage: Usage) {
  return {
    ...envelope(identity, "text_completion"),
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }],
    usage,
  };
}

export function textCompletionChunk(identity: ResponseIdentity, text: string, finishReason: FinishReason | null) {
  return {
    ...envelope(identity, "text_completion"),
    choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }],
  };
}

export function textUsageChunk(identity: ResponseIdentity, usage: Usage) {
  return { ...envelope(identity, "text_completion"), choices: [], usage };
}

export function modelList(models: readonly string[], created: number) {
  return {
    object: "list",
    data: models.map((id) => ({ id, object: "model", created })),
  };
}
