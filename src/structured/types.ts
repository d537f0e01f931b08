// An agent's turn: a chat completion that offers tools or asks for structured output. It travels
// from the edge to the covenant object and decides how the answer is produced and checked.
import type { JsonSchema, TemplateMessage, ToolFunction } from "../families/types";

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: JsonSchema; strict: boolean };

export interface AgentTurn {
  /** The whole conversation, past tool calls and tool results included. */
  messages: TemplateMessage[];
  /** Functions offered; empty when none were. */
  tools: ToolFunction[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
}

/** A tool call as OpenAI's API returns it. */
export interface OpenAiToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** The assistant's checked answer: prose or JSON content, or tool calls. */
export interface TurnAnswer {
  content: string | null;
  toolCalls: OpenAiToolCall[];
  finishReason: "stop" | "length" | "tool_calls";
}

/** Whether a turn asks more of the answer than free text. */
export function isAgentTurn(turn: AgentTurn): boolean {
  return turn.tools.length > 0 || turn.responseFormat.type !== "text" || turn.messages.some((m) => m.role === "tool" || (m.role === "assistant" && (m.tool_calls?.length ?? 0) > 0));
}

/** Tools the model may call in this turn (none under `tool_choice: "none"`). */
export function offeredTools(turn: AgentTurn): ToolFunction[] {
  return turn.toolChoice === "none" ? [] : turn.tools;
}
