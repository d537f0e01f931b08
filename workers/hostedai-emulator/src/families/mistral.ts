// Mistral-7B-Instruct-v0.3, as its published chat template renders tools and calls:
//   <s>[AVAILABLE_TOOLS] [{"type": "function", "function": {…}}, …][/AVAILABLE_TOOLS][INST] system\n\nuser[/INST]
//   [TOOL_CALLS] [{"name": "f", "arguments": {…}, "id": "abc123XYZ"}]</s>
//   [TOOL_RESULTS] {"content": …, "call_id": "abc123XYZ"}[/TOOL_RESULTS]
// The system message (and so any instructions) is written into the last user turn. Spacing
// around the markers differs between copies of the template, so it is not relied on.
import { pyJson, readJsonValue } from "../../../shared/json-text";
import { type OfferedTool, type Turn, readDirectives } from "../../../shared/tool-policy";
import { type FamilyFormat, jsonCalls, offeredTool } from "./format";

const MARKERS = ["<s>", "</s>", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[INST]", "[/INST]", "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"] as const;
type Marker = (typeof MARKERS)[number];

/** The prompt as markers, each with the text that follows it up to the next marker. */
function segments(prompt: string): { marker: Marker; text: string }[] {
  const found: { marker: Marker; at: number }[] = [];
  for (const marker of MARKERS) {
    for (let at = prompt.indexOf(marker); at >= 0; at = prompt.indexOf(marker, at + marker.length)) found.push({ marker, at });
  }
  found.sort((a, b) => a.at - b.at);
  return found.map((f, i) => ({ marker: f.marker, text: prompt.slice(f.at + f.marker.length, found[i + 1]?.at ?? prompt.length) }));
}

/**
 * A tool result's content as the client sent it. The template splices the content in as it is
 * (`{"content": <content>, "call_id": "…"}`), so it is cut out of the text rather than parsed; a
 * JSON string (a renderer that quoted it) is unquoted.
 */
function toolResult(body: string): { content: string; callId?: string } {
  const text = body.trim();
  let raw = text;
  let callId: string | undefined;
  const tail = /,\s*"call_id":\s*"([^"]*)"\s*\}$/.exec(text);
  const head = /^\{\s*"call_id":\s*"([^"]*)"\s*,\s*"content":\s*/.exec(text);
  if (text.startsWith("{") && tail) {
    callId = tail[1];
    raw = text.slice(0, tail.index).replace(/^\{\s*"content":\s*/, "");
  } else if (head && text.endsWith("}")) {
    callId = head[1];
    raw = text.slice(head[0].length, -1);
  }
  raw = raw.trim();
  if (raw.startsWith('"')) {
    try {
      const unquoted: unknown = JSON.parse(raw);
      if (typeof unquoted === "string") raw = unquoted;
    } catch {
      // Not a JSON string after all: kept as written.
    }
  }
  return callId === undefined ? { content: raw } : { content: raw, callId };
}

export const mistral: FamilyFormat = {
  id: "mistral",

  read(prompt) {
    if (!prompt.includes("[INST]")) return undefined;
    const turns: Turn[] = [];
    const texts: string[] = [];
    let tools: OfferedTool[] = [];
    const parts = segments(prompt);
    parts.forEach(({ marker, text }, i) => {
      switch (marker) {
        case "[AVAILABLE_TOOLS]": {
          const read = readJsonValue(text);
          if (read && Array.isArray(read.value)) tools = read.value.flatMap((item) => offeredTool(item) ?? []);
          break;
        }
        case "[INST]": {
          const body = text.trim();
          texts.push(body);
          turns.push({ role: "user", text: body });
          break;
        }
        case "[/INST]": {
          // An answer in text: what follows the instruction, up to </s>.
          const answer = text.trim();
          if (answer !== "" && parts[i + 1]?.marker === "</s>") turns.push({ role: "assistant", text: answer, calls: [] });
          break;
        }
        case "[TOOL_CALLS]": {
          const read = readJsonValue(text);
          turns.push({ role: "assistant", text: `[TOOL_CALLS]${text}`, calls: read ? jsonCalls(read.value) : [] });
          break;
        }
        case "[TOOL_RESULTS]": {
          const result = toolResult(text);
          turns.push(result.callId === undefined ? { role: "tool", content: result.content } : { role: "tool", content: result.content, callId: result.callId });
          break;
        }
        default:
          break;
      }
    });
    return { tools, directives: readDirectives(texts), turns };
  },

  writeCalls(calls) {
    let text = "[TOOL_CALLS] [";
    const argumentSpans: [number, number][] = [];
    calls.forEach((call, i) => {
      if (i > 0) text += ", ";
      text += `{"name": ${JSON.stringify(call.name)}, "arguments": `;
      const start = text.length;
      text += pyJson(call.arguments);
      argumentSpans.push([start, text.length]);
      text += `, "id": ${JSON.stringify(call.id)}}`;
    });
    return { text: `${text}]`, argumentSpans };
  },
};
