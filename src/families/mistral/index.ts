// Mistral-7B-Instruct-v0.3: the "v3" chat template mistralai publishes with the model. No system
// turn: the system message goes into the last user message, but only when that message ends the
// conversation (the template's `loop.last`); offered tools go in [AVAILABLE_TOOLS] before the last
// user message; calls are a JSON list after [TOOL_CALLS]; results come back in [TOOL_RESULTS].
import { endOfJsonContainer, skipJsonSpace } from "../json-scan";
import { pythonJsonDumps, pythonStrip } from "../python-json";
import { answerWithCalls, callFromJson, callsOf, contentOutside, failure, functionDefinition, lastUserIndex, pastArguments, plainText } from "../tool-calls";
import type { ModelFamily, ParsedOutput, ParsedToolCall, RenderInput, TemplateMessage, ToolFunction } from "../types";
import { callIdsOf, hashedCallId } from "./call-ids";

const BOS = "<s>";
const EOS = "</s>";
const TOOL_CALLS = "[TOOL_CALLS]";

/**
 * Each function as the template prints it: string values spliced between quotes as they are
 * (the template does not escape them), other values through `tojson`.
 */
function availableTools(tools: readonly ToolFunction[]): string {
  const entries = tools.map((tool) => {
    const fields = Object.entries(functionDefinition(tool)).map(([key, value]) =>
      typeof value === "string" ? `"${key}": "${value}"` : `"${key}": ${pythonJsonDumps(value)}`,
    );
    return `{"type": "function", "function": {${fields.join(", ")}}}`;
  });
  return `[AVAILABLE_TOOLS] [${entries.join(", ")}][/AVAILABLE_TOOLS]`;
}

function callList(calls: readonly { name: string; args: unknown; id: string }[]): string {
  return `${TOOL_CALLS} [${calls.map((c) => pythonJsonDumps({ name: c.name, arguments: c.args, id: c.id })).join(", ")}]`;
}

function render(input: RenderInput): string {
  const tools = input.tools ?? [];
  const instructions = input.instructions ?? [];
  // The template takes only a first system message and refuses any other; all of them are one
  // system text here, so that nothing a client sent is lost.
  const systems = input.messages.filter((m) => m.role === "system").map((m) => m.content);
  const system = systems.length > 0 ? systems.join("\n\n") : undefined;
  const turns: TemplateMessage[] = input.messages.filter((m) => m.role !== "system");
  let lastUser = lastUserIndex(turns);
  if (lastUser < 0 && instructions.length > 0) {
    // Instructions need a user message to ride on.
    turns.push({ role: "user", content: "" });
    lastUser = turns.length - 1;
  }
  const lastUserContent = lastUser >= 0 ? turns[lastUser]!.content : undefined;
  const shortId = callIdsOf(turns);

  let prompt = BOS;
  turns.forEach((message, index) => {
    if (message.role === "user") {
      // The template tests `message == user_messages[-1]`, which Python's Jinja decides by value:
      // an earlier user message with the same text gets the tools too.
      if (tools.length > 0 && message.content === lastUserContent) prompt += availableTools(tools);
      const lead: string[] = [];
      if (index === turns.length - 1 && system !== undefined) lead.push(system);
      if (index === lastUser) lead.push(...instructions);
      prompt += `[INST] ${lead.length > 0 ? lead.join("\n\n") + "\n\n" : ""}${message.content}[/INST]`;
    } else if (message.role === "assistant") {
      const calls = callsOf(message);
      prompt +=
        calls.length > 0
          ? callList(calls.map((c) => ({ name: c.name, args: pastArguments(c), id: shortId(c.id) }))) + EOS
          : ` ${pythonStrip(message.content ?? "")}${EOS}`;
    } else if (message.role === "tool") {
      // The result is spliced in as it is, not as a JSON string: that is the template's `content|string`.
      prompt += `[TOOL_RESULTS] {"content": ${message.content}, "call_id": "${shortId(message.tool_call_id)}"}[/TOOL_RESULTS]`;
    }
  });
  return prompt;
}

function parse(output: string, tools: readonly ToolFunction[]): ParsedOutput {
  const marker = output.indexOf(TOOL_CALLS);
  if (marker < 0) return plainText(output);
  const start = skipJsonSpace(output, marker + TOOL_CALLS.length);
  const end = endOfJsonContainer(output, start);
  if (end < 0) return failure(`${TOOL_CALLS} must be followed by a complete JSON list of calls`, output);
  let value: unknown;
  try {
    value = JSON.parse(output.slice(start, end));
  } catch {
    return failure(`the JSON list after ${TOOL_CALLS} is not valid JSON`, output);
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return failure(`the list after ${TOOL_CALLS} holds no calls`, output);
  const calls: ParsedToolCall[] = [];
  for (const [i, item] of items.entries()) {
    const call = callFromJson(item, `call ${i + 1} after ${TOOL_CALLS}`);
    if (typeof call === "string") return failure(call, output);
    calls.push(call);
  }
  let rest = output.slice(end).trimStart();
  if (rest.startsWith(EOS)) rest = rest.slice(EOS.length);
  return answerWithCalls(calls, contentOutside([output.slice(0, marker), rest]), tools, output);
}

function formatCalls(calls: readonly ParsedToolCall[]): string {
  // A model writes ids of its own; these are stable, so that the same calls read the same.
  return callList(calls.map((c, i) => ({ name: c.name, args: c.arguments, id: hashedCallId(`${i}:${c.name}`) })));
}

export const mistral: ModelFamily = { id: "mistral", render, parse, formatCalls };
