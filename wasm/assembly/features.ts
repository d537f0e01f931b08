// Token-level features, emitted after the scan: words and symbols with their bigrams, the
// opening and the closing words (where instructions and questions sit, whatever passage lies
// between), and the first tokens of lines (code, option lists, bullet points). Then the dense
// structure features.
import { FNV_OFFSET, fmix, fnvStep, pair } from "./hash";
import { DENSE, NS_BIGRAM, NS_HEAD, NS_LINE, NS_TAIL, NS_WORD } from "./layout";
import { roleAssigned } from "./roles";
import { emit } from "./sink";
import {
  F_LINE_START, F_SINGLE_LETTER, F_SPACE_BEFORE, KIND_NUMBER, KIND_SYMBOL, KIND_WORD,
  stats, tokFlags, tokHash, tokKind, tokens,
} from "./scan";

const HEAD_WORDS: i32 = 8;
/**
 * Words, bigrams and character n-grams come from the first and last FOCUS tokens only; the
 * middle of a long text (a pasted passage, a document, a program) speaks through the body
 * namespace and the dense features. The task is stated at the ends; the middle's vocabulary is
 * about its topic, and topic words are what fails to carry over between datasets.
 */
const FOCUS: i32 = 48;
const TAIL_WORDS: i32 = 10;
const START_MARK: u32 = 0x5354a27;
const END_MARK: u32 = 0x454e4433;

// @ts-ignore: decorator
@inline function hashAt(i: i32): u32 {
  return load<u32>(tokHash + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function kindAt(i: i32): u8 {
  return load<u8>(tokKind + <usize>i);
}
// @ts-ignore: decorator
@inline function flagsAt(i: i32): u8 {
  return load<u8>(tokFlags + <usize>i);
}

/** Counts gathered by the token pass for the dense features. */
class TokenCounts {
  optionMarkers: i32 = 0; // (A) / B) / C. at a line start or inline "(C)"
  listLines: i32 = 0; // lines opening with -, *, •, or "3." / "3)"
  tightSymbols: i32 = 0; // symbols glued between words or numbers: a.b, f(x), x^2, a=b
  mathOps: i32 = 0; // + - * / ^ = < > next to numbers or single letters
  singleLetters: i32 = 0; // one-letter words other than a / I: variables
  endsWithColon: bool = false;
}
export const counts = new TokenCounts();

const LETTER_A: u32 = wordHashOfLetter(0x61);
const LETTER_I: u32 = wordHashOfLetter(0x69);
const OPTION_LETTERS: StaticArray<u32> = [
  wordHashOfLetter(0x61), wordHashOfLetter(0x62), wordHashOfLetter(0x63), wordHashOfLetter(0x64), wordHashOfLetter(0x65),
];

/** A one-letter word's hash, as scan.ts computes it. */
function wordHashOfLetter(cp: u32): u32 {
  return fmix(fnvStep(FNV_OFFSET, cp));
}

function symbolHash(cp: u32): u32 {
  return pair(cp, 1);
}
const OPEN_PAREN = symbolHash(0x28);
const CLOSE_PAREN = symbolHash(0x29);
const DOT = symbolHash(0x2e);
const COLON = symbolHash(0x3a);
const DASH = symbolHash(0x2d);
const STAR = symbolHash(0x2a);
const BULLET = symbolHash(0x2022);
const MATH_OPS: StaticArray<u32> = [
  symbolHash(0x2b), symbolHash(0x2d), symbolHash(0x2a), symbolHash(0x2f), symbolHash(0x5e), symbolHash(0x3d),
  symbolHash(0x3c), symbolHash(0x3e), symbolHash(0x25), symbolHash(0xd7), symbolHash(0xf7), symbolHash(0x2264), symbolHash(0x2265),
];

function isOptionLetter(i: i32): bool {
  if (i < 0 || i >= tokens || kindAt(i) != KIND_WORD || (flagsAt(i) & F_SINGLE_LETTER) == 0) return false;
  const h = hashAt(i);
  for (let k = 0; k < OPTION_LETTERS.length; k++) if (unchecked(OPTION_LETTERS[k]) == h) return true;
  return false;
}

function isMathOp(h: u32): bool {
  for (let k = 0; k < MATH_OPS.length; k++) if (unchecked(MATH_OPS[k]) == h) return true;
  return false;
}

function isOperand(i: i32): bool {
  if (i < 0 || i >= tokens) return false;
  const kind = kindAt(i);
  return kind == KIND_NUMBER || (kind == KIND_WORD && (flagsAt(i) & F_SINGLE_LETTER) != 0);
}

export function emitTokenFeatures(): void {
  counts.optionMarkers = 0; counts.listLines = 0; counts.tightSymbols = 0; counts.mathOps = 0;
  counts.singleLetters = 0; counts.endsWithColon = false;

  let prev = START_MARK;
  let wordsSeen = 0;
  for (let i = 0; i < tokens; i++) {
    const h = hashAt(i);
    const kind = kindAt(i);
    const flags = flagsAt(i);
    if (i < FOCUS || i >= tokens - FOCUS) {
      emit(NS_WORD, h);
      emit(NS_BIGRAM, pair(prev, h));
    }
    prev = h;
    if (kind == KIND_WORD && wordsSeen < HEAD_WORDS) {
      emit(NS_HEAD, h);
      wordsSeen++;
    }
    if ((flags & F_LINE_START) != 0) {
      emit(NS_LINE, h);
      const next = i + 1 < tokens ? hashAt(i + 1) : END_MARK;
      emit(NS_LINE, pair(h, next));
      if ((isOptionLetter(i) && (next == CLOSE_PAREN || next == DOT || next == COLON)) ||
          (h == OPEN_PAREN && isOptionLetter(i + 1))) counts.optionMarkers++;
      if (h == DASH || h == STAR || h == BULLET ||
          (kind == KIND_NUMBER && (next == DOT || next == CLOSE_PAREN))) counts.listLines++;
    } else if (h == OPEN_PAREN && isOptionLetter(i + 1) && i + 2 < tokens && hashAt(i + 2) == CLOSE_PAREN) {
      counts.optionMarkers++;
    }
    if (kind == KIND_SYMBOL && (flags & F_SPACE_BEFORE) == 0 && i + 1 < tokens &&
        (flagsAt(i + 1) & F_SPACE_BEFORE) == 0 && i > 0 && kindAt(i - 1) != KIND_SYMBOL && kindAt(i + 1) != KIND_SYMBOL) {
      counts.tightSymbols++;
    }
    if (kind == KIND_SYMBOL && isMathOp(h) && (isOperand(i - 1) || isOperand(i + 1))) counts.mathOps++;
    if (kind == KIND_WORD && (flags & F_SINGLE_LETTER) != 0 && h != LETTER_A && h != LETTER_I) counts.singleLetters++;
  }
  emit(NS_BIGRAM, pair(prev, END_MARK));

  // The closing words, in order: "... Answer:", "... what is x?"
  let tailStart = tokens;
  let tailWords = 0;
  while (tailStart > 0 && tailWords < TAIL_WORDS) {
    tailStart--;
    if (kindAt(tailStart) == KIND_WORD) tailWords++;
  }
  for (let i = tailStart; i < tokens; i++) emit(NS_TAIL, hashAt(i));
  counts.endsWithColon = tokens > 0 && hashAt(tokens - 1) == COLON;
}

// @ts-ignore: decorator
@inline function ratio(a: i32, b: i32): f32 {
  return b > 0 ? <f32>a / <f32>b : 0;
}
// @ts-ignore: decorator
@inline function logScaled(x: i32, scale: f32): f32 {
  return <f32>Math.log1p(<f64>x) / scale;
}

/** Dense structure features, each scaled to about [0, 1]; index 0 is the bias input. */
export const dense: usize = heap.alloc(<usize>DENSE * 4);

export function computeDense(): void {
  const nonSpace = stats.letters + stats.digits + stats.symbols;
  const t = tokens;
  const f = dense;
  store<f32>(f, 1.0);
  store<f32>(f, logScaled(stats.bytes, 10), 4);
  store<f32>(f, logScaled(stats.words, 8), 8);
  store<f32>(f, logScaled(stats.lines, 6), 12);
  store<f32>(f, ratio(stats.digits, nonSpace), 16);
  // Slots 5 and 8 (upper-case ratio, closing "?") are kept at zero: how a request is capitalised
  // or punctuated at its end does not change its task, and those features mostly told one
  // dataset's house style from another's. Slot 7 (once a lower-case first word, held at zero for
  // the same reason) says whether the request gives the model a role to take (roles.ts).
  store<f32>(f, 0, 20);
  store<f32>(f, ratio(stats.symbols, nonSpace), 24);
  store<f32>(f, roleAssigned() ? 1.0 : 0.0, 28);
  store<f32>(f, 0, 32);
  store<f32>(f, logScaled(stats.questions, 3), 36);
  store<f32>(f, logScaled(counts.optionMarkers, 2), 40);
  store<f32>(f, min<f32>(1, 10 * ratio(stats.codeSymbols, nonSpace)), 44);
  store<f32>(f, ratio(stats.indentedLines, stats.lines), 48);
  store<f32>(f, min<f32>(1, 5 * ratio(counts.mathOps, t)), 52);
  store<f32>(f, logScaled(stats.latex, 3), 56);
  store<f32>(f, ratio(stats.numbers, t), 60);
  store<f32>(f, min<f32>(2, ratio(stats.wordChars, stats.words) / 8), 64);
  store<f32>(f, min<f32>(1, 20 * ratio(stats.quotes, nonSpace)), 68);
  store<f32>(f, ratio(stats.nonAscii, stats.chars), 72);
  store<f32>(f, min<f32>(1, ratio(stats.lines, stats.words)), 76);
  store<f32>(f, ratio(stats.identifiers, stats.words), 80);
  store<f32>(f, min<f32>(1, 5 * ratio(counts.tightSymbols, t)), 84);
  store<f32>(f, min<f32>(1, 5 * ratio(counts.singleLetters, stats.words)), 88);
  store<f32>(f, logScaled(stats.sentences, 4), 92);
  store<f32>(f, counts.endsWithColon ? 1.0 : 0.0, 96);
  store<f32>(f, logScaled(stats.longestLine, 9), 100);
  store<f32>(f, ratio(counts.listLines, stats.lines), 104);
  store<f32>(f, ratio(stats.unusual, stats.chars), 108);
}
