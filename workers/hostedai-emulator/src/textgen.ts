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
  readonly completionTokens: number;
  readonly finishReason: "stop" | "length";
}

export function generateCompletion(input: CompletionInput): Completion {
  const random = randomFor(input.seed, input.model, input.prompt, input.maxTokens, input.temperature);
  // A draw in [0.6, 1.1): one completion in five runs into max_tokens and is cut off.
  const wanted = Math.ceil(input.maxTokens * (0.6 + 0.5 * random()));
  const completionTokens = Math.max(1, Math.min(input.maxTokens, wanted));
  const finishReason = wanted >= input.maxTokens ? "length" : "stop";

  const words: string[] = [];
  let sentenceLeft = 0;
  for (let i = 0; i < completionTokens; i++) {
    const startsSentence = sentenceLeft === 0;
    if (startsSentence) sentenceLeft = 5 + Math.floor(random() * 10);
    let word: string = VOCABULARY[Math.floor(random() * VOCABULARY.length)] ?? "the";
    if (startsSentence) word = word.charAt(0).toUpperCase() + word.slice(1);
    sentenceLeft--;
    // A stopped completion ends its sentence; a cut-off one stops wherever it was.
    const last = i === completionTokens - 1;
    if (sentenceLeft === 0 || (last && finishReason === "stop")) {
      word += ".";
      sentenceLeft = 0;
    }
    words.push(word);
  }
  return { text: words.join(" "), completionTokens, finishReason };
}
