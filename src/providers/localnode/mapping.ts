// Wire shapes of the OpenAI-compatible chat API that mlx_lm.server, llama.cpp and vLLM serve.
import type { ParsedOutput, ParsedToolCall } from "../../families/types";
import type { AgentTurn } from "../../structured/types";
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
  choices: { index: number; message: NodeMessage; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface NodeMessage {
  role: string;
  content: string | null;
  tool_calls?: { id?: string; type?: string; function?: { name?: string; arguments?: string } }[];
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

/**
 * An agent turn as the node's request: the node renders its own chat template and tool format
 * (and constrains JSON output where it can), so tools and formats go through as given.
 */
export function turnRequestBody(turn: AgentTurn): Record<string, unknown> {
  const messages = turn.messages.map((m) => {
    if (m.role === "assistant" && m.tool_calls?.length) {
      return { role: "assistant", content: m.content, tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) };
    }
    return m;
  });
  const format = turn.responseFormat;
  return {
    messages,
    ...(turn.tools.length
      ? {
          tools: turn.tools.map((t) => ({ type: "function", function: t })),
          tool_choice: typeof turn.toolChoice === "object" ? { type: "function", function: { name: turn.toolChoice.name } } : turn.toolChoice,
          parallel_tool_calls: turn.parallelToolCalls,
        }
      : {}),
    ...(format.type === "json_schema"
      ? { response_format: { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: format.strict } } }
      : format.type === "json_object"
        ? { response_format: { type: "json_object" } }
        : {}),
  };
}

/** The node's answer read the way a family's parser reads a prompt-only model's. */
export function parsedNodeMessage(message: NodeMessage | undefined): ParsedOutput {
  const calls: ParsedToolCall[] = [];
  for (const call of message?.tool_calls ?? []) {
    const name = call.function?.name ?? "";
    const text = call.function?.arguments ?? "";
    try {
      calls.push({ name, arguments: text.trim() === "" ? {} : JSON.parse(text) });
    } catch {
      return { ok: false, error: `the arguments of ${JSON.stringify(name)} are not valid JSON`, raw: rawNodeMessage(message) };
    }
  }
  return { ok: true, content: message?.content ?? null, toolCalls: calls };
}

/** The answer as text, to show the model what it said when asking again. */
export function rawNodeMessage(message: NodeMessage | undefined): string {
  if (!message?.tool_calls?.length) return message?.content ?? "";
  return JSON.stringify(message.tool_calls.map((c) => ({ name: c.function?.name, arguments: c.function?.arguments })));
}
