/**
 * Normalisation for fragment identity. Two inputs that normalise alike are the same input: they
 * share a fingerprint, and (under the same model and parameters) a hash and a cached answer.
 *
 * The rules, in order:
 *  1. Unicode NFC, so composed and decomposed accents are one text.
 *  2. Zero-width characters (U+200B–U+200D, U+2060) and byte-order marks (U+FEFF) are removed.
 *  3. Line endings CRLF and CR become LF.
 *  4. Whitespace at the end of every line is removed.
 *  5. Three or more line breaks in a row become two: a paragraph break is kept, not its height.
 *  6. Leading and trailing whitespace of the whole text is removed.
 *
 * Deliberately not normalised: case ("US" and "us" differ), and whitespace inside a line or at
 * its start — indentation and spacing are meaningful in code, which is a task label of its own,
 * and a cache must never answer one program with another's result.
 */
export function normaliseInput(text: string): string {
  return text
    .normalize("NFC")
    .replace(/[\u200B-\u200D\u2060\uFEFF]/g, "")
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t\f\v]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
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
