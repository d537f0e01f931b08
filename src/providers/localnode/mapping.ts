// Wire shapes of the OpenAI-compatible chat API that mlx_lm.server, llama.cpp and vLLM serve.
import type { UpstreamStreamEvent } from "../stream";
export interface ChatCompletionRequest {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
  stream?: boolean;
}

export interface ChatCompletion {
  id: string;
  model: string;
  choices: { index: number; message: { role: string; content: string | null }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ModelList {
  data: { id: string }[];
}

/** The local node's answer in the shape a strike records (the node bills nothing per token). */
export interface LocalInference {
  text: string;
  finish_reason: "stop" | "length";
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export function toLocalInference(c: ChatCompletion, promptTokensEstimate: number): LocalInference {
  const choice = c.choices[0];
  const text = choice?.message.content ?? "";
  const usage = c.usage ?? {
    prompt_tokens: promptTokensEstimate,
    completion_tokens: Math.ceil(text.length / 4),
    total_tokens: promptTokensEstimate + Math.ceil(text.length / 4),
  };
  return { text, finish_reason: choice?.finish_reason === "length" ? "length" : "stop", usage };
}

/**
 * OpenAI chat-completion chunks as upstream events. `[DONE]` closes the stream cleanly; a stream
 * that ends without it was cut, and the reader notices that by the missing `done` event.
 */
export function openAiChunkEvents(state: { finishReason: "stop" | "length"; usage?: LocalInference["usage"] }) {
  return (m: { data: string }): UpstreamStreamEvent[] => {
    if (m.data === "[DONE]") return [{ type: "done", finishReason: state.finishReason, usage: state.usage }];
    let chunk: { choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[]; usage?: LocalInference["usage"]; error?: { message?: string; type?: string } };
    try {
      chunk = JSON.parse(m.data);
    } catch {
      return [{ type: "error", errorType: "bad_response", message: "stream chunk is not JSON" }];
    }
    if (chunk.error) return [{ type: "error", errorType: chunk.error.type ?? "upstream_error", message: chunk.error.message ?? "the node reported an error" }];
    if (chunk.usage) state.usage = chunk.usage;
    const out: UpstreamStreamEvent[] = [];
    for (const choice of chunk.choices ?? []) {
      if (choice.delta?.content) out.push({ type: "token", text: choice.delta.content });
      if (choice.finish_reason === "length" || choice.finish_reason === "stop") state.finishReason = choice.finish_reason;
    }
    return out;
  };
}
