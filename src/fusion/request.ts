// What the planner reads of a request: its system prompt, the text to decompose, and the exact
// text a strike sends.
import type { ChatMessage, FusionOptions } from "../schema";

/**
 * The longest text, in UTF-16 units (system prompt and input together), that fusion decomposes or
 * normalises. A longer request is planned as one plain strike, whatever strategy it asks for, and
 * its identity digests the text as sent (see fingerprintOf) — nothing scans it beyond a hash.
 *
 * 256 Ki characters is at least 64 Ki tokens at the edge's estimate of four UTF-8 bytes a token:
 * twice the largest context in the catalogue (32,768), ten times the default map-reduce
 * threshold (6,000), eight default fragments of 8 Ki tokens each. That is the range map-reduce is
 * for — a document a few times what one model reads — with room to spare. Every scan fusion makes
 * of a text is linear, so the cap is not what keeps a request cheap; it bounds what one request
 * can cost a covenant object (which serialises its tenant's strikes) whatever a later change
 * does, far below the 1 MiB body limit the edge accepts.
 */
export const MAX_FUSION_TEXT_CHARS = 256 * 1024;

/** Characters of a request that fusion would read: its system prompt and its input. */
export function fusionTextChars(text: Pick<RequestText, "system" | "input">): number {
  return text.input.length + (text.system?.length ?? 0);
}

export interface FusionRequest {
  prompt?: string;
  messages?: readonly ChatMessage[];
  /** A model the client named; absent: routed from the classification. */
  model?: string;
  max_tokens: number;
  temperature: number;
  /** Further sampling parameters (top_p, stop, seed, …): part of every fragment's identity. */
  sampling?: Readonly<Record<string, unknown>>;
  tools?: readonly unknown[];
  fusion?: FusionOptions;
}

export interface RequestText {
  /** System messages, joined; they apply to every fragment. */
  system: string | null;
  /** The conversation without its system messages: what a fragment plan decomposes. */
  input: string;
  /** What a strike sends for the whole request. */
  prompt: string;
  /** Non-system messages; decomposition applies to single-turn requests only. */
  turns: number;
  /** Chat requests send their turns as `role: content` lines; a bare prompt is sent as is. */
  tagged: boolean;
}

const contentOf = (m: ChatMessage): string => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n"));

/**
 * The edge's flattening (`role: content` lines), with system messages lifted to the front: the
 * identity keeps the system prompt apart from the input, so the text sent must not depend on
 * where in the conversation the system message stood. A lone user message's input is its
 * content alone, so a split or a chunk never carries a stray `user:` tag.
 */
export function requestText(req: FusionRequest): RequestText {
  if (req.prompt !== undefined) return { system: null, input: req.prompt, prompt: req.prompt, turns: 1, tagged: false };
  const messages = req.messages ?? [];
  const system = messages.filter((m) => m.role === "system").map(contentOf);
  const rest = messages.filter((m) => m.role !== "system");
  const only = rest.length === 1 && rest[0]?.role === "user" ? rest[0] : undefined;
  const input = only ? contentOf(only) : rest.map((m) => `${m.role}: ${contentOf(m)}`).join("\n");
  const joinedSystem = system.length > 0 ? system.join("\n") : null;
  const prompt = (joinedSystem === null ? "" : `system: ${joinedSystem}\n`) + (only ? `user: ${input}` : input);
  return { system: joinedSystem, input, prompt, turns: rest.length, tagged: true };
}

/** The text a strike sends for a fragment whose own input is `input`, under the request's system prompt. */
export function fragmentPrompt(text: Pick<RequestText, "system" | "tagged">, input: string): string {
  const turn = text.tagged ? `user: ${input}` : input;
  return text.system === null ? turn : `system: ${text.system}\n${turn}`;
}

/**
 * Prompt tokens estimated as the edge estimates them — a token per four UTF-8 bytes — counted
 * without encoding, so sizing a long document allocates nothing.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(utf8Bytes(text, 0, text.length) / 4);
}

/** UTF-8 length of `text[from, to)`. */
export function utf8Bytes(text: string, from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
