import { isHorizontalSpace, isLineTerminator } from "./chars";

/**
 * Normalisation for fragment identity. Two inputs that normalise alike are the same input: they
 * share a fingerprint, and (under the same model and parameters) a hash and a cached answer.
 *
 * The rules, in order:
 *  1. Unicode NFC, so composed and decomposed accents are one text.
 *  2. Zero-width characters (U+200B–U+200D, U+2060) and byte-order marks (U+FEFF) are removed.
 *  3. Line endings CRLF and CR become LF.
 *  4. Spaces, tabs, form feeds and vertical tabs at the end of every line are removed.
 *  5. Three or more line breaks in a row become two: a paragraph break is kept, not its height.
 *  6. Leading and trailing whitespace of the whole text is removed.
 *
 * Deliberately not normalised: case ("US" and "us" differ), and whitespace inside a line or at
 * its start — indentation and spacing are meaningful in code, which is a task label of its own,
 * and a cache must never answer one program with another's result.
 */
export function normaliseInput(text: string): string {
  return foldLineEnds(dropZeroWidthAndCarriageReturns(text.normalize("NFC"))).trim();
}

// Rules 2–5 are hand-written scans, each a single pass: the regular expression once used for rule 4,
// /[ \t\f\v]+$/gm, tried a run of spaces from each of its positions, so a long run that does not end
// a line cost time quadratic in its length (60,000 spaces: 12 s of CPU).

const ZERO_WIDTH = (c: number) => (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff;
const LF = 0x0a;
const CR = 0x0d;

/** Rules 2 and 3, in that order: zero-width characters go first, so "\r\u200B\n" is one line break. */
function dropZeroWidthAndCarriageReturns(text: string): string {
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (ZERO_WIDTH(c)) {
      out.push(text.slice(from, i));
      from = ++i;
    } else if (c === CR) {
      out.push(text.slice(from, i), "\n");
      let j = i + 1;
      while (j < text.length && ZERO_WIDTH(text.charCodeAt(j))) j++;
      if (j < text.length && text.charCodeAt(j) === LF) j++;
      from = i = j;
    } else i++;
  }
  out.push(text.slice(from));
  return out.join("");
}

/**
 * Rules 4 and 5 on text with LF line breaks: a run of [ \t\f\v] before a line terminator (LF,
 * U+2028, U+2029) or the end is dropped, and three or more LFs — with only such runs between
 * them — become two. Every character is looked at no more than twice.
 */
function foldLineEnds(text: string): string {
  const out: string[] = [];
  const n = text.length;
  let from = 0;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (isHorizontalSpace(c)) {
      let j = i + 1;
      while (j < n && isHorizontalSpace(text.charCodeAt(j))) j++;
      if (j === n || isLineTerminator(text.charCodeAt(j))) {
        out.push(text.slice(from, i));
        from = j;
      }
      i = j;
    } else if (c === LF) {
      // The run of line breaks from i, with the trailing spaces between them (rule 4 drops those).
      let breaks = 1;
      let end = i + 1;
      for (;;) {
        let k = end;
        while (k < n && isHorizontalSpace(text.charCodeAt(k))) k++;
        if (k < n && text.charCodeAt(k) === LF) {
          breaks++;
          end = k + 1;
        } else break;
      }
      if (breaks >= 3 || end - i !== breaks) {
        out.push(text.slice(from, i), breaks >= 3 ? "\n\n" : "\n".repeat(breaks));
        from = end;
      }
      i = end;
    } else i++;
  }
  out.push(text.slice(from));
  return out.join("");
}

/**
 * JSON with object keys sorted at every depth, so parameter objects that differ only in key
 * order serialise alike. `undefined` members are dropped (as JSON.stringify drops them) and -0
 * is written as 0; non-finite numbers cannot be sent to a model and are refused.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot canonicalise a non-finite number (${value})`);
    return JSON.stringify(Object.is(value, -0) ? 0 : value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`cannot canonicalise a ${typeof value}`);
}

/**
 * The looser form the semantic cache compares: lower case, punctuation dropped, every run of
 * whitespace one space. Only near-duplicate detection uses it; identity never does.
 */
export function looseForm(text: string): string {
  return normaliseInput(text)
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}
