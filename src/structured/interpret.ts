// Reading a model's answer to an agent turn: tool calls that name offered functions with
// arguments that fit their schemas, or content that is the JSON asked for, or plain text.
// Anything else is a verdict with the reason, which the model sees on its one retry.
import { unknownFunction } from "../families/tool-calls";
import type { ParsedOutput } from "../families/types";
import { offeredTools, type AgentTurn, type OpenAiToolCall, type TurnAnswer } from "./types";
import { validateAgainst } from "./validate";

export type Verdict =
  | { ok: true; answer: TurnAnswer }
  | {
      ok: false;
      kind: "tool_call_invalid" | "structured_output_invalid";
      error: string;
      /** The answer ran into max_tokens: asking again with the same limit would not help. */
      truncated: boolean;
    };

/** The JSON text of an answer, without the Markdown fence models like to wrap it in. */
export function unfence(text: string): string {
  const t = text.trim();
  if (!t.startsWith("```")) return t;
  const firstLine = t.indexOf("\n");
  const closing = t.lastIndexOf("```");
  if (firstLine < 0 || closing <= firstLine) return t;
  return t.slice(firstLine + 1, closing).trim();
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `the answer is not valid JSON (${(err as Error).message})` };
  }
}

const list = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(", ");

export function interpret(parsed: ParsedOutput, turn: AgentTurn, finishReason: "stop" | "length", callIdPrefix: string): Verdict {
  const truncated = finishReason === "length";
  const toolError = (error: string): Verdict => ({ ok: false, kind: "tool_call_invalid", error, truncated });
  const formatError = (error: string): Verdict => ({ ok: false, kind: "structured_output_invalid", error, truncated });
  if (!parsed.ok) return toolError(parsed.error);
  const tools = offeredTools(turn);
  const names = tools.map((t) => t.name);
  const choice = turn.toolChoice;

  if (parsed.toolCalls.length > 0) {
    // The same check the family parsers make, so an answer from any backend is refused alike.
    const unknown = unknownFunction(parsed.toolCalls, tools);
    if (unknown) return toolError(unknown);
    if (!turn.parallelToolCalls && parsed.toolCalls.length > 1) return toolError(`only one function may be called in this turn, but the answer called ${parsed.toolCalls.length}`);
    const calls: OpenAiToolCall[] = [];
    for (const [i, call] of parsed.toolCalls.entries()) {
      const tool = tools.find((t) => t.name === call.name)!;
      if (typeof choice === "object" && call.name !== choice.name) return toolError(`the function ${JSON.stringify(choice.name)} must be called, not ${JSON.stringify(call.name)}`);
      const args = call.arguments ?? {};
      if (typeof args !== "object" || Array.isArray(args)) return toolError(`the arguments of ${call.name} must be a JSON object`);
      if (tool.parameters !== undefined) {
        const v = validateAgainst(tool.parameters, args);
        if (!v.ok) return toolError(`the arguments of ${call.name} do not match its parameters schema: ${v.error}`);
      }
      calls.push({ id: `${callIdPrefix}${i}`, type: "function", function: { name: call.name, arguments: JSON.stringify(args) } });
    }
    const content = parsed.content?.trim() ? parsed.content : null;
    return { ok: true, answer: { content, toolCalls: calls, finishReason: "tool_calls" } };
  }

  if (tools.length > 0 && choice === "required") return toolError(`a call to one of ${list(names)} was required, but the answer called no function`);
  if (tools.length > 0 && typeof choice === "object") return toolError(`a call to ${JSON.stringify(choice.name)} was required, but the answer called no function`);

  const text = parsed.content ?? "";
  const format = turn.responseFormat;
  if (format.type === "text") return { ok: true, answer: { content: text, toolCalls: [], finishReason } };
  const json = unfence(text);
  const value = parseJson(json);
  if (!value.ok) return formatError(truncated ? `the answer was cut off at max_tokens before its JSON was complete` : value.error);
  if (format.type === "json_object") {
    if (value.value === null || typeof value.value !== "object" || Array.isArray(value.value)) return formatError("the answer must be a JSON object");
  } else {
    const v = validateAgainst(format.schema, value.value);
    if (!v.ok) return formatError(`the answer does not match the schema ${JSON.stringify(format.name)}: ${v.error}`);
  }
  return { ok: true, answer: { content: json, toolCalls: [], finishReason } };
}
