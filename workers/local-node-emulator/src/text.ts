// Deterministic stand-in for a model's output: the same node seed and request always produce the
// same words, so tests and benchmark replays can compare runs. Pure.
import { mulberry32 } from "../../shared/random";

export { mulberry32 };

/** mlx_lm.server's own default when a request gives no max_tokens. */
export const DEFAULT_MAX_TOKENS = 256;
/** A completion uses at least this share of max_tokens before it "decides" to stop. */
const MIN_LENGTH_SHARE = 0.6;

const VOCABULARY = [
  "the", "a", "model", "node", "device", "memory", "token", "request", "answer", "system",
  "value", "result", "simple", "small", "large", "fast", "slow", "clear", "local", "remote",
  "network", "layer", "weight", "signal", "pattern", "question", "reason", "context", "window",
  "time", "data", "point", "line", "step", "plan", "idea", "example", "detail", "part", "whole",
  "and", "or", "but", "so", "because", "while", "when", "where", "which", "that", "this", "these",
  "is", "are", "was", "will", "can", "should", "might", "must", "does", "has", "have", "makes",
  "takes", "gives", "shows", "keeps", "finds", "builds", "runs", "moves", "holds", "reads",
  "writes", "learns", "returns", "follows", "changes", "starts", "ends", "works", "helps",
  "in", "on", "at", "with", "from", "into", "over", "under", "after", "before", "between",
  "through", "about", "for", "of", "to", "by", "as", "each", "every", "some", "many", "few",
  "more", "less", "most", "first", "next", "last", "other", "same", "new", "old", "good", "better",
  "careful", "quiet", "bright", "steady", "open", "short", "long", "early", "late", "often",
  "rarely", "always", "never", "again", "together", "apart", "here", "there", "now", "then",
  "still", "also", "only", "just", "even", "very", "quite", "rather", "well", "soon",
  "river", "mountain", "garden", "window", "letter", "story", "music", "color", "light", "shadow",
  "morning", "evening", "city", "road", "bridge", "field", "forest", "ocean", "cloud", "stone",
] as const;

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}


/** A rough BPE estimate: about four bytes of UTF-8 per token. */
export function estimateTokens(text: string): number {
  return Math.ceil(new TextEncoder().encode(text).length / 4);
}

export interface GenerationInput {
  seed: string;
  model: string;
  /** The prompt in a canonical serialisation (validated messages as JSON, or the prompt text). */
  prompt: string;
  maxTokens: number;
  temperature: number;
  /** Prefill: the text is a continuation of this (the start of the answer, already written). */
  continues?: string;
}

/**
 * How a continuation joins the answer it continues: mid-sentence (no capital) unless that answer
 * ended a sentence, and after a space unless it ended with one — so prefix + text reads as one.
 */
export function continuationJoin(prefix: string): { midSentence: boolean; needsSpace: boolean } {
  const trimmed = prefix.trimEnd();
  if (trimmed === "") return { midSentence: false, needsSpace: false };
  return { midSentence: !".!?".includes(trimmed.at(-1)!), needsSpace: trimmed === prefix };
}

export interface GeneratedText {
  /** One entry per generated token, each carrying its own leading space as BPE tokens do. */
  tokens: string[];
  finishReason: "stop" | "length";
}

export function generateText(input: GenerationInput): GeneratedText {
  const key = [input.seed, input.model, input.prompt, input.maxTokens, input.temperature].join("\u0000");
  const random = mulberry32(fnv1a32(key));
  const count = completionLength(input.maxTokens, random);
  const join = input.continues === undefined ? undefined : continuationJoin(input.continues);
  const tokens: string[] = [];
  let sentenceLeft = sentenceLength(random);
  let startOfSentence = join?.midSentence !== true;
  for (let i = 0; i < count; i++) {
    const word = pick(VOCABULARY, random);
    let text = startOfSentence ? capitalise(word) : word;
    sentenceLeft -= 1;
    startOfSentence = sentenceLeft === 0;
    if (startOfSentence) {
      text += ".";
      sentenceLeft = sentenceLength(random);
    } else if (random() < 0.06) {
      text += ",";
    }
    tokens.push(i === 0 && join?.needsSpace !== true ? text : ` ${text}`);
  }
  const finishReason = count === input.maxTokens ? "length" : "stop";
  // A model that stops on its own has finished its sentence; one cut off by max_tokens has not.
  if (finishReason === "stop") {
    const last = tokens.length - 1;
    tokens[last] = tokens[last]!.replace(/[,.]?$/, ".");
  }
  return { tokens, finishReason };
}

function completionLength(maxTokens: number, random: () => number): number {
  const least = Math.max(1, Math.ceil(maxTokens * MIN_LENGTH_SHARE));
  return least + Math.floor(random() * (maxTokens - least + 1));
}

function sentenceLength(random: () => number): number {
  return 6 + Math.floor(random() * 12);
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/**
 * Ends the text before the first occurrence of any stop sequence, as a server that honours `stop`
 * does: the stop text itself is not returned and the finish reason becomes "stop".
 */
export function cutAtStop(generated: GeneratedText, stops: readonly string[]): GeneratedText {
  const active = stops.filter((s) => s.length > 0);
  if (active.length === 0) return generated;
  const longest = Math.max(...active.map((s) => s.length));
  let text = "";
  for (const [index, token] of generated.tokens.entries()) {
    const searchFrom = Math.max(0, text.length - longest + 1);
    text += token;
    const cut = earliestMatch(text, active, searchFrom);
    if (cut !== undefined) return { tokens: tokensBefore(generated.tokens.slice(0, index + 1), cut), finishReason: "stop" };
  }
  return generated;
}

function earliestMatch(text: string, needles: readonly string[], from: number): number | undefined {
  let best: number | undefined;
  for (const needle of needles) {
    const at = text.indexOf(needle, from);
    if (at >= 0 && (best === undefined || at < best)) best = at;
  }
  return best;
}

/** The tokens covering text[0, cut), the last one shortened if the cut falls inside it. */
function tokensBefore(tokens: readonly string[], cut: number): string[] {
  const kept: string[] = [];
  let offset = 0;
  for (const token of tokens) {
    if (offset >= cut) break;
    kept.push(token.slice(0, cut - offset));
    offset += token.length;
  }
  return kept;
}
