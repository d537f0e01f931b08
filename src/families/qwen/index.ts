// Qwen2.5-Instruct (qwen-14b, qwen-32b, qwen-70b): ChatML, with the Hermes-style tool format its
// template prints — function signatures in <tools></tools> in the system turn, each call a JSON
// object in a <tool_call> block, tool results in <tool_response> blocks of a user turn.
import { pythonJsonDumps } from "../python-json";
import { answerWithCalls, callFromJson, callsOf, contentOutside, failure, openAiTool, pastArguments, plainText } from "../tool-calls";
import type { ModelFamily, ParsedOutput, ParsedToolCall, RenderInput, ToolFunction } from "../types";

export const QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

export const QWEN_TOOLS_LEAD =
  "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
  "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
export const QWEN_TOOLS_TAIL =
  "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
  '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>';

const OPEN_CALL = "<tool_call>";
const CLOSE_CALL = "</tool_call>";
const IM_END = "<|im_end|>";
const END = IM_END + "\n";

/** One call as the template prints it: the name spliced in as it is, the arguments through `tojson`. */
function callBlock(name: string, args: unknown): string {
  return `${OPEN_CALL}\n{"name": "${name}", "arguments": ${pythonJsonDumps(args)}}\n${CLOSE_CALL}`;
}

function render(input: RenderInput): string {
  const { messages } = input;
  const tools = input.tools ?? [];
  const instructions = input.instructions ?? [];
  const first = messages[0];
  const system = [first?.role === "system" ? first.content : QWEN_DEFAULT_SYSTEM, ...instructions].join("\n\n");
  let prompt = `<|im_start|>system\n${system}`;
  if (tools.length > 0) prompt += QWEN_TOOLS_LEAD + tools.map((t) => "\n" + pythonJsonDumps(openAiTool(t))).join("") + QWEN_TOOLS_TAIL;
  prompt += END;

  messages.forEach((message, index) => {
    if (message.role === "system") {
      // The first system message is the system turn above; later ones are turns of their own.
      if (index > 0) prompt += `<|im_start|>system\n${message.content}${END}`;
    } else if (message.role === "user") {
      prompt += `<|im_start|>user\n${message.content}${END}`;
    } else if (message.role === "assistant") {
      const calls = callsOf(message);
      if (calls.length === 0) {
        prompt += `<|im_start|>assistant\n${message.content ?? ""}${END}`;
      } else {
        prompt += "<|im_start|>assistant" + (message.content ? "\n" + message.content : "");
        prompt += calls.map((c) => "\n" + callBlock(c.name, pastArguments(c))).join("") + END;
      }
    } else {
      // Consecutive tool results share one user turn.
      if (messages[index - 1]?.role !== "tool") prompt += "<|im_start|>user";
      prompt += `\n<tool_response>\n${message.content}\n</tool_response>`;
      if (messages[index + 1]?.role !== "tool") prompt += END;
    }
  });
  return prompt + "<|im_start|>assistant\n";
}

function parse(output: string, tools: readonly ToolFunction[]): ParsedOutput {
  if (!output.includes(OPEN_CALL)) return plainText(output);
  const outside: string[] = [];
  const calls: ParsedToolCall[] = [];
  // Each search starts where the previous one ended: the output is read once.
  let position = 0;
  for (;;) {
    const open = output.indexOf(OPEN_CALL, position);
    if (open < 0) break;
    outside.push(output.slice(position, open));
    const bodyStart = open + OPEN_CALL.length;
    const close = output.indexOf(CLOSE_CALL, bodyStart);
    if (close < 0) return failure(`a ${OPEN_CALL} block is not closed with ${CLOSE_CALL}`, output);
    let value: unknown;
    try {
      value = JSON.parse(output.slice(bodyStart, close));
    } catch {
      return failure(`the text inside ${OPEN_CALL} block ${calls.length + 1} is not valid JSON`, output);
    }
    const call = callFromJson(value, `the JSON in ${OPEN_CALL} block ${calls.length + 1}`);
    if (typeof call === "string") return failure(call, output);
    calls.push(call);
    position = close + CLOSE_CALL.length;
  }
  // The end-of-turn marker, should the answer carry it, is not content.
  const rest = output.slice(position).trim();
  outside.push(rest.endsWith(IM_END) ? rest.slice(0, -IM_END.length) : rest);
  return answerWithCalls(calls, contentOutside(outside), tools, output);
}

function formatCalls(calls: readonly ParsedToolCall[]): string {
  return calls.map((c) => callBlock(c.name, c.arguments)).join("\n");
}

export const qwen: ModelFamily = { id: "qwen", render, parse, formatCalls };
