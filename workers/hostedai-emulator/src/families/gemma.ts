// Gemma (gemma-2b-it): turns `<start_of_turn>user|model\n…<end_of_turn>\n`, no system turn (system
// text opens the first user turn) and no tool tokens. Tools are offered in a user turn with the
// function-calling prompt of Google's Gemma documentation ("You have access to functions. …")
// followed by a JSON list of function definitions; the model calls in Python,
// `[get_weather(city="Paris")]`; results come back in user turns as vLLM's Gemma 3 "pythonic"
// template writes them, `<tool_response>\n…</tool_response>` (Google's ```tool_output fence is
// read too).
import { readJsonValue } from "../../../shared/json-text";
import { type OfferedTool, type Turn, readDirectives } from "../../../shared/tool-policy";
import { type FamilyFormat, blocks, markedTurns, offeredTool } from "./format";
import { readCallList, writeCallList } from "./python-calls";

const START = "<start_of_turn>";
const END = "<end_of_turn>";
/** Openings of the prompts that offer functions: Google's documented one, and vLLM's template's. */
const OFFERS = ["You have access to functions", "Tools (functions) are available"];

/** The function list after an offer in this text, and where it ends; undefined if there is none. */
function readOffer(text: string): { tools: OfferedTool[]; end: number } | undefined {
  const offers = OFFERS.map((o) => text.indexOf(o)).filter((at) => at >= 0);
  if (offers.length === 0) return undefined;
  // The list is the first JSON array of objects after the offer (the offer's own example,
  // `[func_name1(…)]`, is not JSON).
  for (let at = text.indexOf("[", Math.min(...offers)); at >= 0; at = text.indexOf("[", at + 1)) {
    if (!/^\[\s*\{/.test(text.slice(at, at + 64))) continue;
    const read = readJsonValue(text, at);
    if (read === undefined || !Array.isArray(read.value)) continue;
    const tools = read.value.flatMap((item) => offeredTool(item) ?? []);
    if (tools.length > 0) return { tools, end: read.end };
  }
  return undefined;
}

function toolResults(body: string): string[] | undefined {
  const trimmed = body.trim();
  if (trimmed.startsWith("<tool_response>")) return blocks(trimmed, "<tool_response>", "</tool_response>").map((c) => c.trim());
  if (trimmed.startsWith("```tool_output")) return blocks(trimmed, "```tool_output", "```").map((c) => c.trim());
  return undefined;
}

export const gemma: FamilyFormat = {
  id: "gemma",

  read(prompt) {
    if (!prompt.includes(START)) return undefined;
    const turns: Turn[] = [];
    const texts: string[] = [];
    let tools: OfferedTool[] = [];
    for (const { role, body, closed } of markedTurns(prompt, START, END)) {
      if (role === "user") {
        const results = toolResults(body);
        if (results) {
          for (const content of results) turns.push({ role: "tool", content });
          continue;
        }
        texts.push(body);
        const offer = tools.length === 0 ? readOffer(body) : undefined;
        if (offer) tools = offer.tools;
        // The user's own words follow the function list (system text and instructions precede it).
        turns.push({ role: "user", text: offer ? body.slice(offer.end).trimStart() : body });
      } else if (role === "model") {
        if (!closed && body.trim() === "") continue;
        const calls = readCallList(body) ?? [];
        turns.push({ role: "assistant", text: body, calls: calls.map((c) => ({ name: c.name })) });
      }
    }
    return { tools, directives: readDirectives(texts), turns };
  },

  writeCalls(calls) {
    return writeCallList(calls);
  },
};
