// Mistral-7B-Instruct-v0.3's template refuses any tool-call id that is not 9 characters, and its
// tokenizer was trained on 9 alphanumerics; OpenAI clients send ids like "call_abc123…". Each id
// is mapped to 9 alphanumerics by a hash, so the same id always gives the same short id — in the
// assistant's call and in the tool result that answers it, in this request and the next.
import type { TemplateMessage } from "../types";

const ALPHANUMERICS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const MISTRAL_CALL_ID_LENGTH = 9;

export function isMistralCallId(id: string): boolean {
  if (id.length !== MISTRAL_CALL_ID_LENGTH) return false;
  for (let i = 0; i < id.length; i++) if (!ALPHANUMERICS.includes(id.charAt(i))) return false;
  return true;
}

/**
 * 9 alphanumerics from two 32-bit multiplicative hashes of the text (some 53 bits: a collision
 * among the few dozen calls of one conversation is vanishingly unlikely, and handled anyway).
 */
export function hashedCallId(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return digits(h1 >>> 0, 5) + digits(h2 >>> 0, 4);
}

function digits(n: number, count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) {
    out += ALPHANUMERICS.charAt(n % ALPHANUMERICS.length);
    n = Math.floor(n / ALPHANUMERICS.length);
  }
  return out;
}

/**
 * The short id of every call id in a conversation. Ids that already are 9 alphanumerics (the
 * model's own, sent back) keep their value; the others are hashed, and in the unlikely event that
 * two distinct ids hash alike, the later one is hashed again with a counter until it is free.
 */
export function callIdsOf(messages: readonly TemplateMessage[]): (id: string) => string {
  const seen: string[] = [];
  for (const m of messages) {
    if (m.role === "assistant") for (const call of m.tool_calls ?? []) seen.push(call.id);
    if (m.role === "tool") seen.push(m.tool_call_id);
  }
  const short = new Map<string, string>();
  const taken = new Set<string>();
  for (const id of seen) {
    if (isMistralCallId(id)) {
      short.set(id, id);
      taken.add(id);
    }
  }
  for (const id of seen) {
    if (short.has(id)) continue;
    let candidate = hashedCallId(id);
    for (let attempt = 1; taken.has(candidate); attempt++) candidate = hashedCallId(`${id}\u0000${attempt}`);
    short.set(id, candidate);
    taken.add(candidate);
  }
  return (id) => short.get(id) ?? (isMistralCallId(id) ? id : hashedCallId(id));
}
