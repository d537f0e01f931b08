// What an emulated model answers when it is offered tools or asked for JSON: a deterministic
// policy over a conversation, the same for both emulators. The Hosted.AI emulator reads the
// conversation out of a prompt (each model family's chat template); the local node gets it as
// OpenAI messages and parameters. Pure.
import { readJsonValue } from "./json-text";

/**
 * The sentences a prompt carries for what OpenAI's API sets by parameter (tool_choice,
 * parallel_tool_calls, response_format) and for a retry after an invalid answer. The same
 * wording as Homeskillet's src/families/instructions.ts, written out here so the emulators stay
 * independent readers of prompts rather than users of the gateway's code.
 */
export const INSTRUCTIONS = {
  mustCallATool: "You must call one of the functions.",
  mustCallToolLead: "You must call the function ",
  oneCallAtMost: "Call at most one function in this turn.",
  jsonObject: "Answer with a single JSON object and nothing else.",
  jsonSchemaLead: "Answer with a single JSON value that matches this JSON Schema, and nothing else:",
  correctionLead: "Your previous answer was not valid:",
} as const;

/** A function the model may call. */
export interface OfferedTool {
  name: string;
  /** JSON Schema of the arguments; absent: no arguments. */
  parameters?: unknown;
}

export interface PastCall {
  name: string;
  id?: string;
}

export type Turn =
  | { role: "system"; text: string }
  | { role: "user"; text: string }
  | { role: "assistant"; text: string; calls: PastCall[] }
  /** A tool's result; `name` when the format says which tool, `callId` when it names the call. */
  | { role: "tool"; content: string; callId?: string; name?: string };

export type JsonDirective = { kind: "object" } | { kind: "schema"; schema: unknown };

export interface Directives {
  /** tool_choice "required". */
  mustCall: boolean;
  /** tool_choice naming a function. */
  named?: string;
  /** parallel_tool_calls false. */
  atMostOne: boolean;
  /** tool_choice "none": tools are there but must not be called. */
  noCalls?: boolean;
  /** response_format json_object / json_schema. */
  json?: JsonDirective;
}

export interface Conversation {
  tools: OfferedTool[];
  directives: Directives;
  turns: Turn[];
}

export interface ToolResult {
  /** The tool that produced it, when known. */
  name: string | undefined;
  content: string;
}

export type Decision =
  /** Answer with these calls (in this order), nothing else. */
  | { kind: "calls"; tools: OfferedTool[] }
  /** Answer with JSON fitting the directive, nothing else. */
  | { kind: "json"; directive: JsonDirective }
  /** A prose answer after tool use: each result of this request quoted, then the usual words. */
  | { kind: "final"; results: ToolResult[] }
  /** No tools, no JSON: the emulator's ordinary text. */
  | { kind: "text" };

export const NO_DIRECTIVES: Directives = { mustCall: false, atMostOne: false };

/** Is this user text a correction after an invalid answer (one of its lines starts so)? */
export function isCorrection(text: string): boolean {
  return text.split("\n").some((line) => line.trimStart().startsWith(INSTRUCTIONS.correctionLead));
}

/** The directives written in these texts (system text, user turns). The last schema given wins. */
export function readDirectives(texts: readonly string[]): Directives {
  const directives: Directives = { mustCall: false, atMostOne: false };
  for (const text of texts) {
    if (text.includes(INSTRUCTIONS.mustCallATool)) directives.mustCall = true;
    if (text.includes(INSTRUCTIONS.oneCallAtMost)) directives.atMostOne = true;
    const named = namedTool(text);
    if (named !== undefined) directives.named = named;
    if (text.includes(INSTRUCTIONS.jsonObject)) directives.json ??= { kind: "object" };
    const schema = schemaAfterLead(text);
    if (schema !== undefined) directives.json = schema;
  }
  return directives;
}

function namedTool(text: string): string | undefined {
  let found: string | undefined;
  let at = text.indexOf(INSTRUCTIONS.mustCallToolLead);
  while (at >= 0) {
    // The name runs to the full stop that ends the sentence (one followed by a space or the end).
    const rest = text.slice(at + INSTRUCTIONS.mustCallToolLead.length);
    const m = /^(\S+?)\.(?=\s|$)/.exec(rest);
    if (m) found = m[1];
    at = text.indexOf(INSTRUCTIONS.mustCallToolLead, at + 1);
  }
  return found;
}

/** The schema in the fenced block after the JSON Schema lead; `{}` when it cannot be read. */
function schemaAfterLead(text: string): JsonDirective | undefined {
  const at = text.lastIndexOf(INSTRUCTIONS.jsonSchemaLead);
  if (at < 0) return undefined;
  const after = text.slice(at + INSTRUCTIONS.jsonSchemaLead.length);
  const fence = /^\s*```(?:json)?[ \t]*\n?/.exec(after);
  const read = readJsonValue(after, fence ? fence[0].length : 0);
  return { kind: "schema", schema: read === undefined ? {} : read.value };
}

/** The text with the instructions taken out, so what they name is not read as the user's words. */
export function withoutInstructions(text: string): string {
  let out = text;
  const lead = out.indexOf(INSTRUCTIONS.jsonSchemaLead);
  if (lead >= 0) {
    const after = out.slice(lead + INSTRUCTIONS.jsonSchemaLead.length);
    const fence = /^\s*```(?:json)?[ \t]*\n?/.exec(after);
    const read = readJsonValue(after, fence ? fence[0].length : 0);
    let end = lead + INSTRUCTIONS.jsonSchemaLead.length + (read ? read.end : 0);
    const closing = /^\s*```/.exec(out.slice(end));
    if (read && closing) end += closing[0].length;
    out = `${out.slice(0, lead)}${out.slice(end)}`;
  }
  out = out.replace(/You must call the function \S+?\.(?=\s|$)/g, "");
  for (const sentence of [INSTRUCTIONS.mustCallATool, INSTRUCTIONS.oneCallAtMost, INSTRUCTIONS.jsonObject]) out = out.split(sentence).join("");
  return out;
}

const WORDISH = /[\p{L}\p{N}_]/u;

/** Where `needle` first occurs in `haystack` as a whole word (both lower-cased), or -1. */
function wordIndex(haystack: string, needle: string): number {
  if (needle === "") return -1;
  let at = haystack.indexOf(needle);
  while (at >= 0) {
    const before = haystack[at - 1];
    const after = haystack[at + needle.length];
    if ((before === undefined || !WORDISH.test(before)) && (after === undefined || !WORDISH.test(after))) return at;
    at = haystack.indexOf(needle, at + 1);
  }
  return -1;
}

/**
 * The tools a request mentions, in order of first mention: a tool's name appears in the text as a
 * whole word, ignoring case, written as is or with its underscores as spaces ("get weather").
 */
export function mentionedTools(request: string, tools: readonly OfferedTool[]): OfferedTool[] {
  const text = request.toLowerCase();
  const found: { tool: OfferedTool; at: number }[] = [];
  for (const tool of tools) {
    const name = tool.name.toLowerCase();
    const spellings = name.includes("_") ? [name, name.replace(/_/g, " ")] : [name];
    const hits = spellings.map((s) => wordIndex(text, s)).filter((at) => at >= 0);
    if (hits.length > 0) found.push({ tool, at: Math.min(...hits) });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.tool);
}

/** The answer the policy gives (see the emulators' READMEs, "Tools and structured output"). */
export function decideAnswer(conversation: Conversation): Decision {
  const { tools, directives, turns } = conversation;
  if (tools.length === 0) return directives.json ? { kind: "json", directive: directives.json } : { kind: "text" };

  // The request: the last user turn that is not a correction (tool results are turns of their own).
  let requestAt = -1;
  for (let i = turns.length - 1; i >= 0; i--) {
    const turn = turns[i]!;
    if (turn.role === "user" && !isCorrection(turn.text)) {
      requestAt = i;
      break;
    }
  }
  const request = requestAt >= 0 ? (turns[requestAt] as { text: string }).text : "";
  const after = turns.slice(requestAt + 1);

  // Calls already made for it, by answers that stood: one followed by a correction was rejected.
  const called: string[] = [];
  const callNames = new Map<string, string>();
  let lastCalls: PastCall[] = [];
  let nthResult = 0;
  const results: ToolResult[] = [];
  after.forEach((turn, i) => {
    if (turn.role === "assistant") {
      const next = after[i + 1];
      const rejected = next?.role === "user" && isCorrection(next.text);
      if (rejected || turn.calls.length === 0) return;
      lastCalls = turn.calls;
      nthResult = 0;
      for (const call of turn.calls) {
        if (!called.includes(call.name)) called.push(call.name);
        if (call.id !== undefined) callNames.set(call.id, call.name);
      }
    } else if (turn.role === "tool") {
      // Named by the result itself, by the call it answers, or by its place after the calls.
      const byId = turn.callId === undefined ? undefined : callNames.get(turn.callId);
      const name = turn.name ?? byId ?? lastCalls[nthResult]?.name;
      nthResult++;
      results.push({ name, content: turn.content });
    }
  });

  let toCall: OfferedTool[] = [];
  if (!directives.noCalls) {
    const named = directives.named === undefined ? undefined : tools.find((t) => t.name === directives.named);
    if (named) toCall = called.includes(named.name) ? [] : [named];
    else {
      toCall = mentionedTools(withoutInstructions(request), tools).filter((t) => !called.includes(t.name));
      if (toCall.length === 0 && called.length === 0 && directives.mustCall) toCall = [tools[0]!];
    }
    if (directives.atMostOne) toCall = toCall.slice(0, 1);
  }
  if (toCall.length > 0) return { kind: "calls", tools: toCall };
  if (directives.json) return { kind: "json", directive: directives.json };
  return { kind: "final", results };
}

/** The opening of a final answer: every tool result quoted as it came back. */
export function quoteResults(results: readonly ToolResult[]): string {
  return results.map((r) => `${r.name ?? "The tool"} returned ${r.content}.`).join(" ");
}

/** The schema a JSON answer must fit: json_object asks for any object. */
export function schemaOf(directive: JsonDirective): unknown {
  return directive.kind === "object" ? { type: "object" } : directive.schema;
}
