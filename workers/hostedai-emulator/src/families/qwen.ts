// Qwen2.5 (ChatML), as its published chat template renders tools and calls:
//   <|im_start|>system\n…\n\n# Tools\n…<tools>\n{"type": "function", "function": {…}}\n…</tools>…<|im_end|>\n
//   <|im_start|>user\n…<|im_end|>\n
//   <|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {…}}\n</tool_call><|im_end|>\n
//   <|im_start|>user\n<tool_response>\n…\n</tool_response>\n<tool_response>…</tool_response><|im_end|>\n
//   <|im_start|>assistant\n
import { pyJson, readJsonValue } from "../../../shared/json-text";
import { type OfferedTool, type Turn, readDirectives } from "../../../shared/tool-policy";
import { type FamilyFormat, blocks, markedTurns, jsonCalls, offeredTool, unwrapLines } from "./format";

const START = "<|im_start|>";
const END = "<|im_end|>";

/** The functions listed in a <tools> block: one JSON object per line (the first "<tools>" is the prose's "<tools></tools>"). */
function readTools(system: string): OfferedTool[] {
  for (let open = system.indexOf("<tools>"); open >= 0; open = system.indexOf("<tools>", open + 1)) {
    const close = system.indexOf("</tools>", open);
    const tools: OfferedTool[] = [];
    let at = open + "<tools>".length;
    for (;;) {
      const read = readJsonValue(system, at);
      if (read === undefined || (close >= 0 && read.end > close)) break;
      const tool = offeredTool(read.value);
      if (tool) tools.push(tool);
      at = read.end;
    }
    if (tools.length > 0) return tools;
  }
  return [];
}

export const qwen: FamilyFormat = {
  id: "qwen",

  read(prompt) {
    if (!prompt.includes(START)) return undefined;
    const turns: Turn[] = [];
    const systemTexts: string[] = [];
    let tools: OfferedTool[] = [];
    for (const { role, body, closed } of markedTurns(prompt, START, END)) {
      if (role === "system") {
        if (tools.length === 0) tools = readTools(body);
        // The part after <tools> is the template's own; the system text (and instructions) come before it.
        const toolsAt = body.indexOf("\n\n# Tools\n");
        const text = toolsAt < 0 ? body : body.slice(0, toolsAt);
        systemTexts.push(text);
        turns.push({ role: "system", text });
      } else if (role === "user") {
        if (body.trimStart().startsWith("<tool_response>")) {
          for (const content of blocks(body, "<tool_response>", "</tool_response>")) turns.push({ role: "tool", content: unwrapLines(content) });
        } else {
          systemTexts.push(body);
          turns.push({ role: "user", text: body });
        }
      } else if (role === "assistant") {
        // The generation prompt: an assistant turn opened and left empty.
        if (!closed && body.trim() === "") continue;
        const calls = blocks(body, "<tool_call>", "</tool_call>").flatMap((block) => {
          const read = readJsonValue(block);
          return read ? jsonCalls(read.value) : [];
        });
        turns.push({ role: "assistant", text: body, calls });
      }
    }
    return { tools, directives: readDirectives(systemTexts), turns };
  },

  writeCalls(calls) {
    let text = "";
    const argumentSpans: [number, number][] = [];
    calls.forEach((call, i) => {
      if (i > 0) text += "\n";
      text += `<tool_call>\n{"name": ${JSON.stringify(call.name)}, "arguments": `;
      const start = text.length;
      text += pyJson(call.arguments);
      argumentSpans.push([start, text.length]);
      text += "}\n</tool_call>";
    });
    return { text, argumentSpans };
  },
};
