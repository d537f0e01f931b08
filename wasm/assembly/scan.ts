// One pass over UTF-8 bytes: decode (invalid bytes become U+FFFD, never a trap), split into
// tokens, and count what the dense features and the estimates need. Every token is lower-cased and hashed; numbers are reduced to their shape, so "1,250"
// and "3.75" say "a number" rather than memorising values.
import { fnvStep, fmix, pair, wordHash, FNV_OFFSET } from "./hash";

export const KIND_WORD: u8 = 0;
export const KIND_NUMBER: u8 = 1;
export const KIND_SYMBOL: u8 = 2;

export const F_LINE_START: u8 = 1;
export const F_SPACE_BEFORE: u8 = 2;
export const F_CAPITAL: u8 = 4;
export const F_IDENTIFIER: u8 = 8;
export const F_SINGLE_LETTER: u8 = 16;

const MAX_TOKENS: i32 = 1 << 17;
export const tokHash: usize = heap.alloc(<usize>MAX_TOKENS * 4);
export const tokNumber: usize = heap.alloc(<usize>MAX_TOKENS * 4);
export const tokKind: usize = heap.alloc(<usize>MAX_TOKENS);
export const tokFlags: usize = heap.alloc(<usize>MAX_TOKENS);
export let tokens: i32 = 0;

/** Text statistics of the last scan. */
export class Stats {
  bytes: i32 = 0;
  chars: i32 = 0;
  letters: i32 = 0;
  upper: i32 = 0;
  digits: i32 = 0;
  symbols: i32 = 0;
  nonAscii: i32 = 0;
  unusual: i32 = 0; // control characters, invalid bytes, emoji
  words: i32 = 0;
  wordChars: i32 = 0;
  numbers: i32 = 0;
  lines: i32 = 0;
  indentedLines: i32 = 0;
  longestLine: i32 = 0;
  sentences: i32 = 0;
  questions: i32 = 0;
  quotes: i32 = 0;
  codeSymbols: i32 = 0; // { } ; [ ]
  latex: i32 = 0; // backslash commands and $
  identifiers: i32 = 0;
  firstWordLower: bool = false;
  lastChar: u32 = 0;
  /** Running estimate of the prompt's tokens for a BPE tokenizer of the cl100k kind. */
  tokenEstimate: f64 = 0;
}
export const stats = new Stats();

let decodedBytes: i32 = 1;

/** Decodes one code point at p; malformed or truncated sequences read as U+FFFD of one byte. */
function decode(p: usize, end: usize): u32 {
  const b0 = <u32>load<u8>(p);
  decodedBytes = 1;
  if (b0 < 0x80) return b0;
  let need = 0;
  let cp: u32 = 0;
  let min: u32 = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) { need = 1; cp = b0 & 0x1f; min = 0x80; }
  else if (b0 >= 0xe0 && b0 <= 0xef) { need = 2; cp = b0 & 0x0f; min = 0x800; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { need = 3; cp = b0 & 0x07; min = 0x10000; }
  else return 0xfffd;
  if (p + <usize>need >= end + 1) return 0xfffd;
  for (let i = 1; i <= need; i++) {
    const b = <u32>load<u8>(p + <usize>i);
    if ((b & 0xc0) != 0x80) return 0xfffd;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0xfffd;
  decodedBytes = need + 1;
  return cp;
}

function isSpace(cp: u32): bool {
  return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b) ||
    cp == 0x2028 || cp == 0x2029 || cp == 0x3000 || cp == 0xfeff;
}

/** "… Thanks!", "…\nThank you so much": closing thanks, after punctuation or on a line of its own. */
function dropClosingThanks(): void {
  let k = tokens - 1;
  while (k >= 0 && load<u8>(tokKind + <usize>k) == KIND_WORD && isIn(FILLER_TAILS, load<u32>(tokHash + (<usize>k << 2)))) k--;
  if (k < 0 || load<u8>(tokKind + <usize>k) != KIND_WORD || !isIn(THANKS, load<u32>(tokHash + (<usize>k << 2)))) return;
  const opensLine = (load<u8>(tokFlags + <usize>k) & F_LINE_START) != 0 || k == boundaryAt;
  if (k > 0 && !opensLine && !(load<u8>(tokKind + <usize>(k - 1)) == KIND_SYMBOL && isPunctuationToken(load<u32>(tokHash + (<usize>(k - 1) << 2))))) return;
  stats.words -= tokens - k;
  tokens = k;
  if (tokens > 0 && load<u8>(tokKind + <usize>(tokens - 1)) == KIND_SYMBOL && isPunctuationToken(load<u32>(tokHash + (<usize>(tokens - 1) << 2)))) {
    tokens--;
    stats.symbols--;
    if (sentenceToken == tokens) stats.sentences--;
  }
}

/** White space and sentence-closing punctuation, trimmed from the ends of a text. */
function isTrailing(b: u32): bool {
  return b == 0x20 || (b >= 0x09 && b <= 0x0d) || b == 0x2e || b == 0x21 || b == 0x3f || b == 0x2c || b == 0x3b;
}

function isUnusual(cp: u32): bool {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfffd;
}

function isEmoji(cp: u32): bool {
  return (cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf) || cp == 0x200d || cp == 0xfe0f;
}

/** Scripts written without spaces: each character is a token of its own. */
function isIdeograph(cp: u32): bool {
  return (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x3400 && cp <= 0x9fff) || (cp >= 0xf900 && cp <= 0xfaff);
}

function isLetter(cp: u32): bool {
  if (cp < 0x80) return ((cp | 32) >= 0x61 && (cp | 32) <= 0x7a) || cp == 0x5f;
  if (cp == 0xd7 || cp == 0xf7) return false;
  return (cp >= 0xc0 && cp <= 0x24f) || (cp >= 0x370 && cp <= 0x58f) || (cp >= 0x5d0 && cp <= 0x6ff) ||
    (cp >= 0x900 && cp <= 0xdff) || (cp >= 0xe00 && cp <= 0xe7f) || (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0xac00 && cp <= 0xd7af) || (cp >= 0x1e00 && cp <= 0x1fff);
}

function isUpper(cp: u32): bool {
  return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x391 && cp <= 0x3a9) ||
    (cp >= 0x400 && cp <= 0x42f);
}

function lower(cp: u32): u32 {
  if (!isUpper(cp)) return cp;
  return cp >= 0x400 && cp <= 0x40f ? cp + 0x50 : cp + 0x20;
}

function isDigit(cp: u32): bool {
  return cp >= 0x30 && cp <= 0x39;
}

function pushToken(hash: u32, kind: u8, flags: u8, value: f32): void {
  if (tokens >= MAX_TOKENS) return;
  store<u32>(tokHash + (<usize>tokens << 2), hash);
  store<f32>(tokNumber + (<usize>tokens << 2), value);
  store<u8>(tokKind + <usize>tokens, kind);
  store<u8>(tokFlags + <usize>tokens, flags);
  tokens++;
}

/**
 * Words that do not change what is asked: "please" and "kindly" anywhere, a greeting or thanks
 * opening the text ("Hi there! …", "Hello, …"), thanks closing it ("… Thank you!"). They are read
 * (the token estimate counts them) but emit no token, nor does punctuation that only attaches
 * them ("…, please"), so "Hello, please name three primes. Thanks!" reads as "name three primes".
 * Elsewhere they are words like any other: "Say hello", "a hello-world program".
 */
const FILLERS: StaticArray<u32> = [wordHash("please"), wordHash("pls"), wordHash("plz"), wordHash("kindly")];
const GREETINGS: StaticArray<u32> = [
  wordHash("hi"), wordHash("hello"), wordHash("hey"), wordHash("hiya"), wordHash("howdy"), wordHash("greetings"),
  wordHash("thanks"), wordHash("thank"), wordHash("thx"),
];
const THANKS: StaticArray<u32> = [wordHash("thanks"), wordHash("thank"), wordHash("thx")];
/** Read as part of the greeting right before them: "hi there", "thank you", "hello everyone". */
const FILLER_TAILS: StaticArray<u32> = [
  wordHash("there"), wordHash("you"), wordHash("all"), wordHash("everyone"), wordHash("so"), wordHash("much"),
  wordHash("in"), wordHash("advance"),
];

function isIn(table: StaticArray<u32>, h: u32): bool {
  for (let k = 0; k < table.length; k++) if (unchecked(table[k]) == h) return true;
  return false;
}

/** 1 right after a greeting, 2 after "please" or after a filler's attaching punctuation; 0 otherwise. */
let afterFiller: i32 = 0;
/** The token that last counted a sentence end, so dropping it can uncount it. */
let sentenceToken: i32 = -1;
/** Where dropped punctuation marked a boundary: the next token starts a new phrase there. */
let boundaryAt: i32 = -1;

// @ts-ignore: decorator
@inline function isAttachingPunctuation(cp: u32): bool {
  return cp == 0x2c || cp == 0x21 || cp == 0x2e || cp == 0x3a || cp == 0x3b;
}

/** BPE tokenizers split long or rare words; a word of n ASCII letters costs about this many tokens. */
function wordTokens(asciiLen: i32, otherLen: i32): f64 {
  const ascii = asciiLen <= 7 ? 1.0 : 1.0 + <f64>(asciiLen - 5) / 4.0;
  return (asciiLen > 0 ? ascii : 0.0) + <f64>otherLen * 0.8;
}

let p: usize = 0;
let end: usize = 0;
let pendingFlags: u8 = 0;

// ASCII classes from one table lookup: the hot loops test bits instead of ranges.
const A_LETTER: u8 = 1;
const A_UPPER: u8 = 2;
const A_DIGIT: u8 = 4;
const A_SPACE: u8 = 8;
const A_UNUSUAL: u8 = 16;
const asciiClass: usize = heap.alloc(128);
for (let c: u32 = 0; c < 128; c++) {
  let k: u8 = 0;
  if (isLetter(c)) k |= A_LETTER;
  if (isUpper(c)) k |= A_UPPER;
  if (isDigit(c)) k |= A_DIGIT;
  if (isSpace(c)) k |= A_SPACE;
  if (isUnusual(c)) k |= A_UNUSUAL;
  store<u8>(asciiClass + <usize>c, k);
}

// @ts-ignore: decorator
@inline function asciiClassOf(cp: u32): u8 {
  return load<u8>(asciiClass + <usize>cp);
}

function scanWord(first: u32): bool {
  const stop = end;
  let at = p;
  let bytes = decodedBytes;
  let h = FNV_OFFSET;
  let len = 0;
  let ascii = 0;
  let other = 0;
  let upper = 0;
  let digits = 0;
  let prevLower = false;
  let flags = pendingFlags;
  if (isUpper(first)) flags |= F_CAPITAL;
  let cp = first;
  while (true) {
    let up = false;
    let digit = false;
    if (cp < 0x80) {
      const k = asciiClassOf(cp);
      up = (k & A_UPPER) != 0;
      digit = (k & A_DIGIT) != 0;
      ascii++;
    } else {
      up = isUpper(cp);
      other++;
    }
    const lc = up ? lower(cp) : cp;
    if (up) {
      upper++;
      if (prevLower) flags |= F_IDENTIFIER; // camelCase
    }
    if (cp == 0x5f && len > 0) flags |= F_IDENTIFIER; // snake_case
    prevLower = !up && cp != 0x5f && !digit;
    if (digit) digits++;
    h = fnvStep(h, lc);
    len++;
    at += <usize>bytes;
    if (at >= stop) break;
    const b = <u32>load<u8>(at);
    if (b < 0x80) {
      cp = b;
      bytes = 1;
      if (cp == 0x27 && at + 1 < stop) {
        // An apostrophe inside a word ("don't") keeps the word together.
        const after = <u32>load<u8>(at + 1) | 32;
        if (after >= 0x61 && after <= 0x7a) continue;
      }
      if ((asciiClassOf(cp) & (A_LETTER | A_DIGIT)) == 0) break;
    } else {
      cp = decode(at, stop);
      bytes = decodedBytes;
      if (!isLetter(cp) || isIdeograph(cp)) break;
    }
  }
  p = at;
  const hash = fmix(h);
  // A greeting counts only before the first token of the text.
  const greeting = tokens == 0 && isIn(GREETINGS, hash);
  if (greeting || isIn(FILLERS, hash) || (afterFiller == 1 && isIn(FILLER_TAILS, hash))) {
    stats.tokenEstimate += wordTokens(ascii, other);
    // Punctuation that attached the filler to what came before it goes with it: "…, please".
    if (tokens > 0 && afterFiller == 0 && load<u8>(tokKind + <usize>(tokens - 1)) == KIND_SYMBOL &&
        isPunctuationToken(load<u32>(tokHash + (<usize>(tokens - 1) << 2)))) {
      tokens--;
      stats.symbols--;
      if (sentenceToken == tokens) { stats.sentences--; sentenceToken = -1; }
    }
    boundaryAt = tokens;
    afterFiller = greeting || afterFiller == 1 ? 1 : 2;
    return false;
  }
  afterFiller = 0;
  stats.upper += upper;
  stats.letters += len - digits;
  stats.digits += digits;
  if (stats.words == 0) stats.firstWordLower = !isUpper(first) && first != 0x5f;
  if (len == 1) flags |= F_SINGLE_LETTER;
  if ((flags & F_IDENTIFIER) != 0) stats.identifiers++;
  stats.words++;
  stats.wordChars += len;
  stats.tokenEstimate += wordTokens(ascii, other);
  pushToken(hash, KIND_WORD, flags, 0);
  return true;
}

const PUNCTUATION_TOKENS: StaticArray<u32> = [
  pair(0x2c, 1), pair(0x21, 1), pair(0x2e, 1), pair(0x3a, 1), pair(0x3b, 1), pair(0x3f, 1),
];

function isPunctuationToken(h: u32): bool {
  return isIn(PUNCTUATION_TOKENS, h);
}

function scanNumber(first: u32): void {
  afterFiller = 0;
  let digits = 0;
  let separated = false;
  let value: f64 = 0;
  let fraction: f64 = 0;
  let cp = first;
  while (true) {
    if (isDigit(cp)) {
      digits++;
      if (fraction > 0) { value += <f64>(cp - 0x30) * fraction; fraction /= 10; }
      else if (value < 1e12) value = value * 10 + <f64>(cp - 0x30);
      p++;
    } else {
      // '.' or ',' between digits: 3.75 or 1,250.
      separated = true;
      if (cp == 0x2e) fraction = 0.1;
      p++;
    }
    if (p >= end) break;
    cp = <u32>load<u8>(p);
    if (isDigit(cp)) continue;
    if ((cp == 0x2e || cp == 0x2c) && p + 1 < end && isDigit(<u32>load<u8>(p + 1))) continue;
    break;
  }
  stats.digits += digits;
  stats.numbers++;
  stats.tokenEstimate += <f64>((digits + 2) / 3) + (separated ? 1.0 : 0.0);
  const shape = pair(0x4e554d00 | <u32>min(digits, 5), separated ? 1 : 0);
  pushToken(shape, KIND_NUMBER, pendingFlags, <f32>value);
}

/** A run of one repeated symbol ("==", "**", "----") is one token. */
function scanSymbol(cp: u32): bool {
  let run = 0;
  const bytes = decodedBytes;
  while (p < end && decode(p, end) == cp && decodedBytes == bytes) {
    run++;
    p += <usize>bytes;
  }
  if (afterFiller != 0 && run == 1 && isAttachingPunctuation(cp)) {
    stats.tokenEstimate += 1.0;
    boundaryAt = tokens;
    afterFiller = 2;
    return false;
  }
  afterFiller = 0;
  stats.symbols += run;
  if (cp == 0x3f) stats.questions += run;
  if (cp == 0x22 || cp == 0x201c || cp == 0x201d) stats.quotes += run;
  if (cp == 0x7b || cp == 0x7d || cp == 0x3b || cp == 0x5b || cp == 0x5d) stats.codeSymbols += run;
  if (cp == 0x24) stats.latex += run;
  if (cp == 0x5c && p < end && isLetter(<u32>load<u8>(p))) stats.latex++;
  if ((cp == 0x2e || cp == 0x21 || cp == 0x3f) && (p >= end || isSpace(<u32>load<u8>(p)))) {
    stats.sentences++;
    sentenceToken = tokens;
  }
  stats.tokenEstimate += 1.0;
  pushToken(pair(cp, <u32>min(run, 3)), KIND_SYMBOL, pendingFlags, 0);
  return true;
}

const EMOJI_HASH: u32 = 0x3e30f1a7;

/** Scans `len` bytes at `input` into tokens, char n-grams and statistics. */
export function scan(input: usize, len: i32): void {
  tokens = 0;
  stats.chars = 0; stats.letters = 0; stats.upper = 0; stats.digits = 0; stats.symbols = 0;
  stats.nonAscii = 0; stats.unusual = 0; stats.words = 0; stats.wordChars = 0; stats.numbers = 0;
  stats.lines = 0; stats.indentedLines = 0; stats.longestLine = 0; stats.sentences = 0;
  stats.questions = 0; stats.quotes = 0; stats.codeSymbols = 0; stats.latex = 0; stats.identifiers = 0;
  stats.firstWordLower = false; stats.lastChar = 0;

  // Surrounding white space and closing punctuation do not change the task: "Name three prime
  // numbers", "Name three prime numbers." and "  Name three prime numbers?\n" read the same.
  let start = input;
  let stop = input + <usize>max(len, 0);
  while (stop > start && isTrailing(<u32>load<u8>(stop - 1))) stop--;
  while (stop >= start + 3 && load<u8>(stop - 3) == 0xe2 && load<u8>(stop - 2) == 0x80 && load<u8>(stop - 1) == 0xa6) {
    stop -= 3; // …
    while (stop > start && isTrailing(<u32>load<u8>(stop - 1))) stop--;
  }
  while (start < stop && isTrailing(<u32>load<u8>(start)) && load<u8>(start) <= 0x20) start++;
  stats.bytes = <i32>(stop - start);
  // The trimmed punctuation is still part of the prompt the upstream counts: a token a run.
  let trimmedRuns = 0;
  let previous: u32 = 0;
  for (let q = stop; q < input + <usize>max(len, 0); q++) {
    const b = <u32>load<u8>(q);
    if (b > 0x20 && b != previous) trimmedRuns++;
    previous = b;
  }
  stats.tokenEstimate = <f64>trimmedRuns;
  afterFiller = 0;
  sentenceToken = -1;
  boundaryAt = -1;
  p = start;
  end = stop;
  pendingFlags = F_LINE_START | F_SPACE_BEFORE;
  let lineStartAt = p;
  let leading = 0;
  let inLeading = true;
  let spaceRun = 0;
  while (p < end) {
    const b0 = <u32>load<u8>(p);
    let cp = b0;
    if (b0 < 0x80) decodedBytes = 1;
    else cp = decode(p, end);
    const k: u8 = cp < 0x80 ? asciiClassOf(cp) : 0;
    stats.chars++;
    if (cp >= 0x80) stats.nonAscii++;
    if (cp == 0x0a) {
      stats.lines++;
      stats.longestLine = max(stats.longestLine, <i32>(p - lineStartAt));
      if (leading >= 2) stats.indentedLines++;
      stats.tokenEstimate += spaceRun == 0 ? 1.0 : 0.0;
      spaceRun++;
      p++;
      lineStartAt = p;
      leading = 0;
      inLeading = true;
      pendingFlags = F_LINE_START | F_SPACE_BEFORE;
      continue;
    }
    if ((k & (A_SPACE | A_UNUSUAL)) != 0 || (cp >= 0x80 && (isSpace(cp) || isUnusual(cp)))) {
      if ((k & A_UNUSUAL) != 0 || (cp >= 0x80 && isUnusual(cp))) stats.unusual++;
      if (inLeading) leading += cp == 0x09 ? 4 : 1;
      if (spaceRun == 1 && cp == 0x20) stats.tokenEstimate += 0.5; // runs of indentation
      spaceRun++;
      p += <usize>decodedBytes;
      pendingFlags |= F_SPACE_BEFORE;
      continue;
    }
    spaceRun = 0;
    inLeading = false;
    stats.lastChar = cp;
    if (isIdeograph(cp)) {
      stats.letters++;
      stats.words++;
      stats.wordChars++;
      stats.tokenEstimate += 1.0;
      afterFiller = 0;
      pushToken(fmix(fnvStep(FNV_OFFSET, cp)), KIND_WORD, pendingFlags, 0);
      p += <usize>decodedBytes;
    } else if ((k & A_LETTER) != 0 || (cp >= 0x80 && isLetter(cp))) {
      // A dropped filler leaves the line-start mark to the word after it.
      if (!scanWord(cp)) continue;
    } else if ((k & A_DIGIT) != 0) {
      scanNumber(cp);
    } else if (isEmoji(cp)) {
      stats.unusual++;
      stats.tokenEstimate += cp == 0x200d || cp == 0xfe0f ? 1.0 : 2.0;
      p += <usize>decodedBytes;
      afterFiller = 0;
      if (cp != 0x200d && cp != 0xfe0f) pushToken(EMOJI_HASH, KIND_SYMBOL, pendingFlags, 0);
    } else {
      if (!scanSymbol(cp)) continue;
    }
    pendingFlags = 0;
  }
  dropClosingThanks();
  if (p > lineStartAt || stats.lines == 0) {
    stats.lines++;
    stats.longestLine = max(stats.longestLine, <i32>(p - lineStartAt));
    if (leading >= 2) stats.indentedLines++;
  }
}
