// Deterministic completions: the same (seed, model, prompt, max_tokens, temperature) always gives
// the same words, so tests and benchmark replays are reproducible. One word is one token.
import { randomFor } from "./random";

const VOCABULARY = [
  "the", "a", "system", "model", "answer", "question", "data", "result", "value", "process",
  "time", "request", "response", "people", "world", "way", "day", "work", "part", "place",
  "number", "point", "home", "water", "light", "city", "river", "mountain", "garden", "window",
  "table", "paper", "story", "music", "color", "sound", "idea", "plan", "reason", "change",
  "energy", "signal", "network", "memory", "pattern", "balance", "method", "detail", "example", "summary",
  "is", "was", "becomes", "shows", "makes", "gives", "takes", "finds", "keeps", "holds",
  "moves", "builds", "opens", "reads", "writes", "turns", "brings", "leaves", "starts", "follows",
  "explains", "suggests", "describes", "improves", "measures", "connects", "supports", "reduces", "creates", "returns",
  "good", "new", "clear", "simple", "quick", "careful", "small", "large", "early", "late",
  "bright", "quiet", "strong", "gentle", "useful", "common", "steady", "open", "fair", "certain",
  "and", "but", "so", "because", "while", "when", "if", "then", "also", "often",
  "of", "in", "on", "with", "for", "from", "to", "by", "about", "over",
  "this", "that", "each", "every", "many", "some", "more", "most", "other", "another",
  "we", "they", "it", "you", "one", "everyone", "nobody", "someone", "here", "there",
  "today", "again", "always", "usually", "rarely", "slowly", "together", "further", "nearly", "finally",
] as const;

const utf8 = new TextEncoder();

const ROLES = ["system", "user", "assistant", "tool"] as const;

/** Prompt tokens are estimated the usual way: about four bytes of UTF-8 per token. */
export function promptTokens(prompt: string): number {
  return Math.ceil(utf8.encode(prompt).byteLength / 4);
}

export interface CompletionInput {
  readonly seed: string;
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly temperature: number;
}

export interface Completion {
  readonly text: string;
  /** The text as it is streamed, one entry per token: `tokens.join("")` is `text`. */
  readonly tokens: readonly string[];
  readonly completionTokens: number;
  readonly finishReason: "stop" | "length";
}

/**
 * How a prompt leaves off. A prompt whose last line is an assistant's turn in a role-prefixed
 * transcript (`assistant: …`, the shape every chat prompt arrives in) ends inside that answer: a
 * model carries on from where it stops instead of starting a new one — mid-sentence unless the
 * answer so far ends one, after a space unless it ends with one.
 */
export function openAnswer(prompt: string): { midSentence: boolean; needsSpace: boolean } | undefined {
  // The last turn begins at the last line that starts with a role (an answer may span lines).
  let at = prompt.length;
  let role: string | undefined;
  while (role === undefined && at > 0) {
    const lineStart = prompt.lastIndexOf("\n", at - 1) + 1;
    role = ROLES.find((r) => prompt.startsWith(`${r}: `, lineStart));
    at = role === undefined ? lineStart - 1 : lineStart;
  }
  if (role !== "assistant") return undefined;
  const sofar = prompt.slice(at + "assistant: ".length);
  const trimmed = sofar.trimEnd();
  if (trimmed === "") return { midSentence: false, needsSpace: false };
  return { midSentence: !".!?".includes(trimmed.at(-1)!), needsSpace: trimmed === sofar };
}

export function generateCompletion(input: CompletionInput): Completion {
  const random = randomFor(input.seed, input.model, input.prompt, input.maxTokens, input.temperature);
  // A draw in [0.6, 1.1): one completion in five runs into max_tokens and is cut off.
  const wanted = Math.ceil(input.maxTokens * (0.6 + 0.5 * random()));
  const completionTokens = Math.max(1, Math.min(input.maxTokens, wanted));
  const finishReason = wanted >= input.maxTokens ? "length" : "stop";

  const open = openAnswer(input.prompt);
  const words: string[] = [];
  let sentenceLeft = 0;
  for (let i = 0; i < completionTokens; i++) {
    const startsSentence = sentenceLeft === 0;
    if (startsSentence) sentenceLeft = 5 + Math.floor(random() * 10);
    let word: string = VOCABULARY[Math.floor(random() * VOCABULARY.length)] ?? "the";
    // A continued answer carries on the sentence it was in.
    const continues = i === 0 && open?.midSentence === true;
    if (startsSentence && !continues) word = word.charAt(0).toUpperCase() + word.slice(1);
    sentenceLeft--;
    // A stopped completion ends its sentence; a cut-off one stops wherever it was.
    const last = i === completionTokens - 1;
    if (sentenceLeft === 0 || (last && finishReason === "stop")) {
      word += ".";
      sentenceLeft = 0;
    }
    words.push(word);
  }
  // Each token carries the space after it; the first of a continuation also the one it needs before.
  const tokens = words.map((word, i) => `${i === 0 && open?.needsSpace ? " " : ""}${word}${i < words.length - 1 ? " " : ""}`);
  return { text: tokens.join(""), tokens, completionTokens, finishReason };
}
