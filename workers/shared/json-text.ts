// JSON as models write it and read it: Python's json.dumps spacing (what chat templates' `tojson`
// produces, and what models trained on them write back), a reader that finds one JSON value
// inside longer text, and the pieces an output is streamed and counted in.

/** JSON with Python's default separators: `{"a": 1, "b": [1, 2]}`. */
export function pyJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => pyJson(item === undefined ? null : item)).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The JSON value that starts at `start` (after any whitespace) and where it ends, or undefined if
 * none does. Objects and arrays are found by matching brackets outside strings, so the text may
 * go on after the value.
 */
export function readJsonValue(text: string, start = 0): { value: unknown; end: number } | undefined {
  let at = start;
  while (at < text.length && /\s/.test(text[at]!)) at++;
  const first = text[at];
  if (first === undefined) return undefined;
  let end: number | undefined;
  if (first === "{" || first === "[") end = matchingClose(text, at);
  else {
    const scalar = /^(?:"(?:[^"\\\u0000-\u001f]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(at, at + 100_000));
    if (scalar) end = at + scalar[0].length;
  }
  if (end === undefined) return undefined;
  try {
    return { value: JSON.parse(text.slice(at, end)) as unknown, end };
  } catch {
    return undefined;
  }
}

/** Index just past the bracket that closes the one at `open`, skipping strings; undefined if unclosed. */
function matchingClose(text: string, open: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

/** A word is split into pieces of at most this many characters, as subword tokenizers do. */
const MAX_WORD_PIECE = 6;

/**
 * The text in token-sized pieces, each with the whitespace before it (as BPE tokens carry their
 * leading space): a run of letters or digits (long words split), or one other character.
 * `tokenPieces(t).join("") === t`.
 */
export function tokenPieces(text: string): string[] {
  const pieces: string[] = [];
  for (const match of text.matchAll(/\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]|\s+/gu)) {
    const piece = match[0];
    const lead = /^\s*/.exec(piece)![0];
    const word = piece.slice(lead.length);
    if (word.length <= MAX_WORD_PIECE || !/^[\p{L}\p{N}_]+$/u.test(word)) {
      pieces.push(piece);
      continue;
    }
    const chars = [...word];
    for (let i = 0; i < chars.length; i += MAX_WORD_PIECE) {
      pieces.push(`${i === 0 ? lead : ""}${chars.slice(i, i + MAX_WORD_PIECE).join("")}`);
    }
  }
  return pieces;
}
