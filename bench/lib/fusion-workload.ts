// The fusion benches' requests, shared by the simulated bench (bench/fusion.ts) and the live one
// (bench/fusion-live.ts): multi-part prompts and long documents built from the shared prompt
// corpus, and a replay with repeats. Everything is drawn from a seeded generator, so every run
// (and both benches) see the same requests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FusionRequest } from "../../src/fusion";
import type { TaskLabel } from "../../src/schema";
import { mulberry32 } from "../../workers/shared/random";

/** The benches' seeded generator: the emulators' own PRNG. */
export const random = mulberry32;

export const CORPUS = fileURLToPath(new URL("../../../shared/data/prompts/train.jsonl", import.meta.url));

/** The corpus labels stand in for the classifier; this table routes them (coding → qwen-14b, math and reasoning → qwen-32b, …). */
export const ROUTES: Record<TaskLabel, string> = { coding: "qwen-14b", math: "qwen-32b", reasoning: "qwen-32b", extraction: "mistral-7b", writing: "mistral-7b", roleplay: "gemma-2b-it", knowledge: "mistral-7b" };

/** The one large model a whole request is compared against. */
export const LARGE = "qwen-70b";

export interface Item {
  text: string;
  label: TaskLabel;
}

export interface Workload {
  name: string;
  requests: { req: FusionRequest; label: TaskLabel }[];
}

export function loadItems(path: string): Item[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Item);
}

/**
 * 40 multi-part prompts ("Please answer each of the following:" + 2–4 numbered one-line items)
 * and 12 long documents (25–84 extraction passages, half asked for a summary, half a question),
 * plus the pool of one-line items the replay draws its questions from.
 */
export function buildWorkloads(items: Item[], rnd: () => number): { multi: Workload; long: Workload; pool: Item[] } {
  const oneLine = items.filter((i) => !i.text.includes("\n") && i.text.length >= 20 && i.text.length <= 400 && ["knowledge", "math", "coding", "reasoning", "writing"].includes(i.label));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const multi = Array.from({ length: 40 }, () => {
    const parts = Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => pick(oneLine));
    return { req: { prompt: `Please answer each of the following:\n${parts.map((p, i) => `${i + 1}. ${p.text}`).join("\n")}`, max_tokens: 512, temperature: 0.7 }, label: parts[0]!.label };
  });
  const passages = items.filter((i) => i.label === "extraction").map((i) => i.text.match(/Context: "([\s\S]*)"\s*\n\nAnswer:$/)?.[1] ?? i.text.match(/article:\s*([\s\S]{400,})/)?.[1]).filter((t): t is string => t !== undefined && t.length > 400);
  const long = Array.from({ length: 12 }, (_, d) => {
    const doc = Array.from({ length: 25 + Math.floor(rnd() * 60) }, () => pick(passages).trim()).join("\n\n");
    const head = d % 2 === 0 ? "Summarise the following document in a few paragraphs." : `Question: ${pick(items.filter((i) => i.label === "knowledge" && i.text.endsWith("?"))).text}`;
    return { req: { prompt: `${head}\n\n${doc}${d % 2 === 0 ? "" : "\n\nAnswer:"}`, max_tokens: 512, temperature: 0.3 }, label: "extraction" as TaskLabel };
  });
  return { multi: { name: "multi-part", requests: multi }, long: { name: "long document", requests: long }, pool: oneLine };
}

/**
 * A replay with repeats: `length` prompts drawn (Zipf) from 50 multi-part prompts over the first 30
 * questions of `pool`, so parts recur across different prompts; one in five is re-typed (lower case,
 * trailing spaces), which an exact cache cannot match. The first n of a longer replay are the
 * replay of length n.
 */
export function replaySequence(pool: Item[], rnd: () => number, length = 200): string[] {
  const questions = pool.slice(0, 30);
  const prompts = Array.from({ length: 50 }, () => {
    const parts = Array.from({ length: 2 + Math.floor(rnd() * 2) }, () => questions[Math.floor(rnd() * questions.length)]!);
    return `Answer these questions:\n${parts.map((p, i) => `${i + 1}. ${p.text}`).join("\n")}`;
  });
  const weights = prompts.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const draw = () => {
    let x = rnd() * total;
    return prompts[weights.findIndex((w) => (x -= w) <= 0)] ?? prompts[0]!;
  };
  return Array.from({ length }, () => (rnd() < 0.2 ? `${draw().toLowerCase()}  ` : draw()));
}

/** Seed of the workloads and of the replay: the same in both fusion benches. */
export const WORKLOAD_SEED = 2026;
export const REPLAY_SEED = 7;
/** The emulator's text-generator seed in the simulation; the live bench gives the emulator the same, so completions match. */
export const COMPLETION_SEED = "fusion-bench";
