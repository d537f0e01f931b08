// Gemma (gemma-2b-it): two roles, `user` and `model`, and no system turn — system text opens the
// first user turn. Gemma has no tool tokens either: tools are offered with the function-calling
// prompt from Google's Gemma documentation, placed and rendered the way vLLM's Gemma 3 "pythonic"
// tool template does it (after the system text in the first user turn, the tools as indented
// JSON), and the model answers with a Python list of calls.
import { readCallList, readCallsOnly, opensCallList } from "../python-literal";
import { isPythonSpace, pythonJsonDumps, pythonStrip } from "../python-json";
import { answerWithCalls, callsOf, contentOutside, failure, openAiTool, pastArguments, plainText } from "../tool-calls";
import type { ModelFamily, ParsedOutput, ParsedToolCall, RenderInput, TemplateMessage, ToolFunction } from "../types";

const BOS = "<bos>";

/** The instruction of ai.google.dev/gemma/docs/capabilities/function-calling, as its example prompt breaks its lines. */
export const GEMMA_TOOLS_PREAMBLE =
  "You have access to functions. If you decide to invoke any of the function(s),\n" +
  "you MUST put it in the format of\n" +
  "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]\n" +
  "You SHOULD NOT include any other text in the response if you call a function\n";

const TOOL_CODE_FENCE = "```tool_code";
const FENCE = "```";
const END_OF_TURN = "<end_of_turn>";

/**
 * One call as the template writes it: keyword arguments `key=<tojson>` for a mapping, positional
 * ones for a list, a single value otherwise. (Python would iterate a string's characters; only
 * arguments that are not JSON arrive as a string, and they are written as one value.)
 */
function pythonCall(name: string, args: unknown): string {
  let inside: string;
  if (Array.isArray(args)) inside = args.map((v) => pythonJsonDumps(v)).join(", ");
  else if (args !== null && typeof args === "object")
    inside = Object.entries(args as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${pythonJsonDumps(v)}`)
      .join(", ");
  else inside = pythonJsonDumps(args);
  return `${name}(${inside})`;
}

function callList(calls: readonly { name: string; args: unknown }[]): string {
  return `[${calls.map((c) => pythonCall(c.name, c.args)).join(", ")}]`;
}

function render(input: RenderInput): string {
  const tools = input.tools ?? [];
  const instructions = input.instructions ?? [];
  // The template takes the first message's system text; any other system message would break its
  // alternation of roles, so all of them open the first turn here.
  const systems = input.messages.filter((m) => m.role === "system").map((m) => m.content);
  const turns: TemplateMessage[] = input.messages.filter((m) => m.role !== "system");
  if (turns.length === 0 && instructions.length > 0) turns.push({ role: "user", content: "" });
  const lead = [...(systems.length > 0 ? [systems.join("\n\n")] : []), ...instructions];

  let prompt = BOS;
  turns.forEach((message, index) => {
    prompt += `<start_of_turn>${message.role === "assistant" ? "model" : "user"}\n`;
    if (index === 0) {
      if (lead.length > 0) prompt += lead.join("\n\n") + "\n\n";
      if (tools.length > 0) prompt += GEMMA_TOOLS_PREAMBLE + pythonJsonDumps(tools.map(openAiTool), 4) + "\n\n";
    }
    const calls = callsOf(message);
    if (calls.length > 0) prompt += callList(calls.map((c) => ({ name: c.name, args: pastArguments(c) })));
    const content = pythonStrip(message.content ?? "");
    prompt += message.role === "tool" ? `<tool_response>\n${content}</tool_response>` : content;
    prompt += "<end_of_turn>\n";
  });
  return prompt + "<start_of_turn>model\n";
}

function parse(output: string, tools: readonly ToolFunction[]): ParsedOutput {
  let start = 0;
  while (start < output.length && isPythonSpace(output.charCodeAt(start))) start++;
  if (opensCallList(output, start)) {
    const read = readCallList(output, start);
    if (!read.ok) return failure(`the list of function calls does not parse: ${read.error}`, output);
    return answerWithCalls(read.calls, contentOutside([withoutEndOfTurn(output.slice(read.end))]), tools, output);
  }
  // Otherwise only Google's fenced form is a call: prose may hold brackets anywhere.
  const fence = output.indexOf(TOOL_CODE_FENCE);
  if (fence < 0) return plainText(output);
  const bodyStart = fence + TOOL_CODE_FENCE.length;
  const close = output.indexOf(FENCE, bodyStart);
  if (close < 0) return failure(`the ${TOOL_CODE_FENCE} block is not closed with ${FENCE}`, output);
  const read = readCallsOnly(output.slice(bodyStart, close));
  if (!read.ok) return failure(`the calls in the ${TOOL_CODE_FENCE} block do not parse: ${read.error}`, output);
  const after = withoutEndOfTurn(output.slice(close + FENCE.length));
  return answerWithCalls(read.calls, contentOutside([output.slice(0, fence), after]), tools, output);
}

/** Text after the calls, without the end-of-turn marker should the answer carry it. */
function withoutEndOfTurn(text: string): string {
  const trimmed = text.trim();
  return trimmed.endsWith(END_OF_TURN) ? trimmed.slice(0, -END_OF_TURN.length) : trimmed;
}

function formatCalls(calls: readonly ParsedToolCall[]): string {
  return callList(calls.map((c) => ({ name: c.name, args: c.arguments })));
}

export const gemma: ModelFamily = { id: "gemma", render, parse, formatCalls };
