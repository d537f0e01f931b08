// What every family does the same way with calls: how a past call's arguments reach a template,
// how a function definition is printed, and how a call read back from an answer is checked.
import type { ParsedOutput, ParsedToolCall, PastToolCall, TemplateMessage, ToolFunction } from "./types";

/**
 * A past call's arguments as the templates read them. OpenAI carries them as JSON text; the
 * templates print a mapping (vLLM parses the text before rendering), so they are parsed here.
 * Text that is not JSON stays a string, which the templates print as a JSON string.
 */
export function pastArguments(call: PastToolCall): unknown {
  try {
    return JSON.parse(call.arguments);
  } catch {
    return call.arguments;
  }
}

/** A function as OpenAI's `tools[].function` spells it, in that key order, absent keys left out. */
export function functionDefinition(tool: ToolFunction): Record<string, unknown> {
  const definition: Record<string, unknown> = { name: tool.name };
  if (tool.description !== undefined) definition.description = tool.description;
  if (tool.parameters !== undefined) definition.parameters = tool.parameters;
  return definition;
}

/** A tool as the templates receive it: OpenAI's `{type: "function", function: {...}}`. */
export function openAiTool(tool: ToolFunction): Record<string, unknown> {
  return { type: "function", function: functionDefinition(tool) };
}

/** The calls an assistant turn made; an empty list is no calls, as a template's truth test has it. */
export function callsOf(message: TemplateMessage): readonly PastToolCall[] {
  return message.role === "assistant" && message.tool_calls && message.tool_calls.length > 0 ? message.tool_calls : [];
}

export function plainText(output: string): ParsedOutput {
  return { ok: true, content: output, toolCalls: [] };
}

export function failure(error: string, raw: string): ParsedOutput {
  return { ok: false, error, raw };
}

/** The text around the calls, a line for each stretch of it; none when it is only whitespace. */
export function contentOutside(pieces: readonly string[]): string | null {
  const text = pieces.map((p) => p.trim()).filter((p) => p !== "").join("\n");
  return text === "" ? null : text;
}

/** The index of the last user message, -1 when there is none. */
export function lastUserIndex(messages: readonly TemplateMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "user") return i;
  return -1;
}

/**
 * One call written as a JSON object (Qwen's and Mistral's formats): `name` a string, `arguments`
 * any JSON (absent: none). Arguments written as JSON text inside a string are read as that JSON.
 */
export function callFromJson(value: unknown, where: string): ParsedToolCall | string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return `${where} is not a JSON object with "name" and "arguments"`;
  const record = value as Record<string, unknown>;
  if (typeof record.name !== "string" || record.name === "") return `${where} has no "name" string`;
  let args = record.arguments ?? {};
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch {
      // A string that is not JSON is what the model wrote; validation judges it.
    }
  }
  return { name: record.name, arguments: args };
}

const NAMES_SHOWN = 10;
const NAME_CHARS_SHOWN = 64;

/** A name as an error message shows it: a model can write a name of any length. */
export function shownName(name: string): string {
  return name.length > NAME_CHARS_SHOWN ? name.slice(0, NAME_CHARS_SHOWN) + "…" : name;
}

/** Why a call cannot be made, or undefined when every call names an offered function. */
export function unknownFunction(calls: readonly ParsedToolCall[], tools: readonly ToolFunction[]): string | undefined {
  const offered = new Set(tools.map((t) => t.name));
  const stranger = calls.find((c) => !offered.has(c.name));
  if (!stranger) return undefined;
  if (tools.length === 0) return `the answer calls the function "${shownName(stranger.name)}", but no functions are available`;
  const names = tools.slice(0, NAMES_SHOWN).map((t) => shownName(t.name)).join(", ") + (tools.length > NAMES_SHOWN ? ", …" : "");
  return `the function "${shownName(stranger.name)}" is not one of the available functions (${names})`;
}

/** The calls and content read back, or the failure when a call names a function not offered. */
export function answerWithCalls(calls: ParsedToolCall[], content: string | null, tools: readonly ToolFunction[], raw: string): ParsedOutput {
  const error = unknownFunction(calls, tools);
  return error ? failure(error, raw) : { ok: true, content, toolCalls: calls };
}
