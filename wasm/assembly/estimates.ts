// What the router needs besides the label: how hard the request looks, how many tokens it holds
// and will produce, and how urgently it can be served. There are no labels for these in the
// training data, so they are transparent formulas over the label probabilities and the text's
// structure (constraints, steps, requested lengths), not a trained model.
import { wordHash } from "./hash";
import { LABELS, LATENCY_BATCH, LATENCY_INTERACTIVE, LATENCY_STANDARD } from "./layout";
import { counts } from "./features";
import { KIND_NUMBER, KIND_SYMBOL, KIND_WORD, stats, tokHash, tokKind, tokNumber, tokens } from "./scan";

/** Label order: coding, math, reasoning, extraction, writing, roleplay, knowledge. */
const BASE_COMPLEXITY: StaticArray<f64> = [0.55, 0.5, 0.55, 0.3, 0.35, 0.3, 0.15];
const BASE_OUTPUT_TOKENS: StaticArray<f64> = [400, 300, 250, 60, 500, 250, 90];

// Keyword kinds, looked up in one small open-addressing table (one probe per word, usually).
const CONSTRAINT: i32 = 1;
const STEP: i32 = 2;
const DEPTH: i32 = 3;
const BREVITY: i32 = 4;
const UNIT: i32 = 5;
const NUMBER_WORD: i32 = 6;

const SLOTS: i32 = 512;
const slotHash: usize = heap.alloc(<usize>SLOTS * 4);
const slotInfo: usize = heap.alloc(<usize>SLOTS * 4);

function add(word: string, kind: i32, index: i32 = 0): void {
  const h = wordHash(word);
  let i = <i32>(h & <u32>(SLOTS - 1));
  while (load<i32>(slotInfo + (<usize>i << 2)) != 0) i = (i + 1) & (SLOTS - 1);
  store<u32>(slotHash + (<usize>i << 2), h);
  store<i32>(slotInfo + (<usize>i << 2), (kind << 8) | index);
}

/** kind << 8 | index, or 0 for a word that is no keyword. */
function lookup(h: u32): i32 {
  let i = <i32>(h & <u32>(SLOTS - 1));
  while (true) {
    const info = load<i32>(slotInfo + (<usize>i << 2));
    if (info == 0 || load<u32>(slotHash + (<usize>i << 2)) == h) return info;
    i = (i + 1) & (SLOTS - 1);
  }
}

/** Length units a prompt may ask for, and about how many output tokens one unit is. */
const UNIT_TOKENS: StaticArray<f64> = [1.35, 25, 130, 12, 20, 650, 0.3, 1];
const NUMBER_VALUES: StaticArray<f64> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 100, 1, 1];

function addAll(words: string[], kind: i32): void {
  for (let i = 0; i < words.length; i++) add(words[i], kind);
}

memory.fill(slotInfo, 0, <usize>SLOTS * 4);
addAll(["must", "should", "exactly", "least", "most", "without", "ensure", "include", "avoid", "only", "each", "every",
  "requirements", "constraints"], CONSTRAINT);
addAll(["step", "steps", "then", "first", "finally", "after", "before", "next"], STEP);
addAll(["prove", "proof", "optimize", "optimise", "efficient", "complexity", "algorithm", "derive", "analyze", "analyse",
  "implement", "design", "architecture", "concurrent", "distributed", "scalable", "compare", "tradeoffs", "justify",
  "refactor", "debug", "edge"], DEPTH);
addAll(["briefly", "brief", "concise", "concisely", "succinct", "short", "tldr"], BREVITY);
add("word", UNIT, 0); add("words", UNIT, 0);
add("sentence", UNIT, 1); add("sentences", UNIT, 1);
add("paragraph", UNIT, 2); add("paragraphs", UNIT, 2);
add("line", UNIT, 3); add("lines", UNIT, 3);
add("bullet", UNIT, 4); add("bullets", UNIT, 4); add("points", UNIT, 4); add("items", UNIT, 4);
add("page", UNIT, 5); add("pages", UNIT, 5);
add("characters", UNIT, 6);
add("tokens", UNIT, 7);
const numberWords = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "fifty",
  "hundred", "single", "a"];
for (let i = 0; i < numberWords.length; i++) add(numberWords[i], NUMBER_WORD, i);

// @ts-ignore: decorator
@inline function hashAt(i: i32): u32 {
  return load<u32>(tokHash + (<usize>i << 2));
}

/** Results of the last estimate. */
export class Estimates {
  complexity: f32 = 0;
  promptTokens: i32 = 0;
  outputTokens: i32 = 0;
  latencyClass: i32 = LATENCY_STANDARD;
}
export const estimates = new Estimates();

function numberAt(i: i32): f64 {
  const kind = load<u8>(tokKind + <usize>i);
  if (kind == KIND_NUMBER) return <f64>load<f32>(tokNumber + (<usize>i << 2));
  if (kind != KIND_WORD) return 0;
  const info = lookup(hashAt(i));
  return info >> 8 == NUMBER_WORD ? unchecked(NUMBER_VALUES[info & 0xff]) : 0;
}

/**
 * probs: f32[LABELS]; windowScale: the whole text's length over the scanned window's (1 unless
 * the host cut a long text down to its head and tail).
 */
export function estimate(probs: usize, windowScale: f64): void {
  let constraints = 0;
  let steps = 0;
  let depth = 0;
  let brevity = false;
  let requested: f64 = 0;
  for (let i = 0; i < tokens; i++) {
    if (load<u8>(tokKind + <usize>i) != KIND_WORD) continue;
    const info = lookup(hashAt(i));
    if (info == 0) continue;
    const kind = info >> 8;
    if (kind == CONSTRAINT) constraints++;
    else if (kind == STEP) steps++;
    else if (kind == DEPTH) depth++;
    else if (kind == BREVITY) brevity = true;
    else if (kind == UNIT && i > 0) {
      // "300 words", "a 500-word essay", "three paragraphs"
      let n = numberAt(i - 1);
      if (n == 0 && i > 1 && load<u8>(tokKind + <usize>(i - 1)) == KIND_SYMBOL) n = numberAt(i - 2);
      if (n > 0 && n <= 100000) requested = max(requested, n * unchecked(UNIT_TOKENS[info & 0xff]));
    }
  }

  let base: f64 = 0;
  let output: f64 = 0;
  for (let c = 0; c < LABELS; c++) {
    const pc = <f64>load<f32>(probs + (<usize>c << 2));
    base += pc * unchecked(BASE_COMPLEXITY[c]);
    output += pc * unchecked(BASE_OUTPUT_TOKENS[c]);
  }
  const words = <f64>stats.words * windowScale;
  const lengthTerm = min(1.0, Math.log2(1 + words) / 11);
  const nonSpace = <f64>(stats.letters + stats.digits + stats.symbols);
  const mathDensity = tokens > 0 ? min(1.0, 5 * <f64>counts.mathOps / <f64>tokens) : 0;
  const codeDensity = nonSpace > 0 ? min(1.0, 10 * <f64>stats.codeSymbols / nonSpace) : 0;
  const z = -3.2 + 4.0 * base + 1.6 * lengthTerm + 0.35 * Math.log1p(<f64>constraints) + 0.3 * Math.log1p(<f64>steps) +
    0.45 * Math.log1p(<f64>depth) + 0.3 * Math.log1p(<f64>counts.listLines) + 0.6 * mathDensity + 0.4 * codeDensity;
  const complexity = 1 / (1 + Math.exp(-z));

  let outputTokens = requested > 0 ? requested : output * (0.5 + 1.5 * complexity) * (brevity ? 0.4 : 1.0);
  outputTokens = min(8192.0, max(4.0, outputTokens));
  const promptTokens = stats.bytes == 0 ? 0.0 : max(1.0, Math.round(stats.tokenEstimate * windowScale));

  estimates.complexity = <f32>complexity;
  estimates.promptTokens = <i32>min(promptTokens, 2147483647.0);
  estimates.outputTokens = <i32>Math.round(outputTokens);
  estimates.latencyClass = promptTokens > 12000 || outputTokens > 1500 ? LATENCY_BATCH
    : promptTokens <= 1500 && outputTokens <= 300 && complexity < 0.55 ? LATENCY_INTERACTIVE
    : LATENCY_STANDARD;
}
