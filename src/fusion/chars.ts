/**
 * Character classes for the hand-written scanners that read client text (normalisation, sub-task
 * detection, chunking). A regular expression that backtracks over a long run of one character is
 * quadratic or worse in the run's length, and a prompt is whatever a client sends, up to the body
 * limit; these scanners look at every UTF-16 unit a bounded number of times instead. Each class is
 * exactly the one the regular expressions used, so behaviour did not change with the rewrite.
 */

/** JavaScript's `\s` (and what String.prototype.trim removes): WhiteSpace and LineTerminator. */
export function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Where a line ends for `$` under the `m` flag: LF, CR, U+2028, U+2029. */
export function isLineTerminator(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

/** `[ \t\f\v]`: the horizontal whitespace normalisation strips from line ends. */
export function isHorizontalSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0c || c === 0x0b;
}

/** `\w` without the `u` flag: ASCII letters, digits and `_` (what `\b` looks at). */
export function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** First index at or after `from` (and before `to`) that is not `\s`; `to` when there is none. */
export function skipSpace(text: string, from: number, to = text.length): number {
  let i = from;
  while (i < to && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Whether `text` has `word` at `at`, compared as a regular expression with the `i` flag and no `u`
 * flag compares: ASCII letters in either case, every other character exactly. `word` is lower case.
 */
export function hasWordAt(text: string, at: number, word: string): boolean {
  if (at + word.length > text.length) return false;
  for (let k = 0; k < word.length; k++) {
    const c = text.charCodeAt(at + k);
    const w = word.charCodeAt(k);
    if (c === w) continue;
    // An upper-case ASCII letter folds to its lower case; nothing else folds into ASCII.
    if (c >= 0x41 && c <= 0x5a && c + 0x20 === w) continue;
    return false;
  }
  return true;
}
