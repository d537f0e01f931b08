// What the emulator knows about a model family's prompt format: how to read the conversation out
// of a prompt rendered with the family's published chat template, and how the model writes calls.
import type { Conversation, OfferedTool } from "../../../shared/tool-policy";

export interface CallToWrite {
  name: string;
  arguments: unknown;
  /** The call's id, for formats that carry one (Mistral: nine alphanumerics). */
  id: string;
}

export interface WrittenCalls {
  /** The model's whole output. */
  text: string;
  /** Where each call's arguments are written in it, [start, end): what a cut-short answer breaks. */
  argumentSpans: [number, number][];
}

export interface FamilyFormat {
  id: "gemma" | "mistral" | "qwen";
  /** The conversation in a prompt, or undefined when the prompt is not in this family's format. */
  read(prompt: string): Conversation | undefined;
  /** The output with which the model calls these functions, and nothing else. */
  writeCalls(calls: readonly CallToWrite[]): WrittenCalls;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A function definition as templates print them: `{type: "function", function: {...}}` or the function itself. */
export function offeredTool(item: unknown): OfferedTool | undefined {
  if (!isRecord(item)) return undefined;
  const fn = isRecord(item.function) ? item.function : item;
  if (typeof fn.name !== "string" || fn.name === "") return undefined;
  return fn.parameters === undefined ? { name: fn.name } : { name: fn.name, parameters: fn.parameters };
}

/** The calls in a JSON list or object of `{name, arguments, id?}`; those without a name are skipped. */
export function jsonCalls(value: unknown): { name: string; id?: string }[] {
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => {
    if (!isRecord(item) || typeof item.name !== "string") return [];
    return [typeof item.id === "string" ? { name: item.name, id: item.id } : { name: item.name }];
  });
}

/** The text between `open` and `close` each time they occur, in order (an unclosed last one runs to the end). */
export function blocks(text: string, open: string, close: string): string[] {
  const out: string[] = [];
  let at = text.indexOf(open);
  while (at >= 0) {
    const start = at + open.length;
    const end = text.indexOf(close, start);
    out.push(text.slice(start, end < 0 ? text.length : end));
    if (end < 0) break;
    at = text.indexOf(open, end + close.length);
  }
  return out;
}

/** One leading and one trailing newline off, as templates put them around a block's content. */
export function unwrapLines(text: string): string {
  return text.replace(/^\n/, "").replace(/\n$/, "");
}

/**
 * The turns of a prompt whose turns open with `start` + role + newline and close with `end`
 * (ChatML's `<|im_start|>`/`<|im_end|>`, Gemma's `<start_of_turn>`/`<end_of_turn>`). The last
 * turn, the one the model answers in, has no end yet: its body runs to the end of the prompt.
 */
export function markedTurns(prompt: string, start: string, end: string): { role: string; body: string; closed: boolean }[] {
  return prompt
    .split(start)
    .slice(1)
    .map((chunk) => {
      const newline = chunk.indexOf("\n");
      const role = (newline < 0 ? chunk : chunk.slice(0, newline)).trim();
      const closed = chunk.indexOf(end);
      return { role, body: chunk.slice(newline < 0 ? chunk.length : newline + 1, closed < 0 ? chunk.length : closed), closed: closed >= 0 };
    });
}
