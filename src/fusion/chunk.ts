/**
 * Cutting a long document into chunks on natural boundaries: paragraphs first; a paragraph too
 * big for a chunk is cut between sentences; a sentence too big, between words; a "word" too big
 * (a base64 blob, a minified line), by characters. Adjacent pieces are then packed greedily up to
 * the chunk size, so chunks are as few as the size allows and every cut is the most natural one
 * available. Chunks carry their character offsets, so a missing chunk can be named precisely.
 */
import { isSpace, skipSpace } from "./chars";
import { estimateTokens, utf8Bytes } from "./request";

export interface Span {
  start: number;
  end: number;
}

export interface Chunk extends Span {
  text: string;
  tokens: number;
}

/**
 * A kind of boundary: the first separator starting in `[at, to)` of `text`, as `[start, end)`
 * (`end` may pass `to`, and equals `start` for a boundary that takes no characters), or null.
 */
type Separator = (text: string, at: number, to: number) => readonly [number, number] | null;

/** Offsets of the pieces `text[from, to)` splits into at `separator`, separators left out. */
function pieces(text: string, from: number, to: number, separator: Separator): Span[] {
  const out: Span[] = [];
  let at = from;
  for (let search = from, m = separator(text, search, to); m !== null; m = separator(text, search, to)) {
    const [start, end] = m;
    if (start > at) out.push({ start: at, end: Math.min(start, to) });
    at = end;
    // A zero-width boundary (after "。") separates without consuming anything.
    search = end > start ? end : start + 1;
  }
  if (at < to) out.push({ start: at, end: to });
  return out;
}

// The separators are hand-written scans that never look past `to` for a start, so each level of
// the descent reads a span once; a regular expression searched on to the document's end from
// every span, and the one for sentences (a lookbehind over closing quotes and brackets) was
// quadratic in a run of them.

/** `\n[ \t]*\n\s*`: a blank line (spaces or tabs on it) and any whitespace after it. */
const PARAGRAPH: Separator = (text, at, to) => {
  for (let i = at; i < to; i++) {
    if (text.charCodeAt(i) !== 0x0a) continue;
    let j = i + 1;
    while (j < text.length && (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x09)) j++;
    if (j < text.length && text.charCodeAt(j) === 0x0a) return [i, skipSpace(text, j + 1)];
    // No blank line here; the spaces just read hold no line break, so resume after them.
    i = j - 1;
  }
  return null;
};

const SENTENCE_END = (c: number) => c === 0x2e || c === 0x21 || c === 0x3f || c === 0x2026; // . ! ? …
const CLOSER = (c: number) => c === 0x22 || c === 0x27 || c === 0x201d || c === 0x2019 || c === 0x29 || c === 0x5d; // " ' ” ’ ) ]
const CJK_SENTENCE_END = (c: number) => c === 0x3002 || c === 0xff01 || c === 0xff1f; // 。！？

/**
 * Whitespace after sentence-final punctuation and any closing quotes or brackets (". ", '?" ',
 * "…) "); or, after "。", "！" or "？", an empty boundary, since those scripts put no space between
 * sentences. What the expression /(?<=[.!?…]["'”’)\]]*)\s+|(?<=[。！？])/ matched, in linear time.
 */
const SENTENCE: Separator = (text, at, to) => {
  for (let i = at; i < to; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      // Back over the closers before this space to the punctuation they close. A space is no
      // closer, so each closer is read back from one space only.
      let k = i;
      while (k > 0 && CLOSER(text.charCodeAt(k - 1))) k--;
      if (k > 0 && SENTENCE_END(text.charCodeAt(k - 1))) return [i, skipSpace(text, i + 1)];
    }
    if (i > 0 && CJK_SENTENCE_END(text.charCodeAt(i - 1))) return [i, i];
  }
  return null;
};

/** `\s+` */
const WORD: Separator = (text, at, to) => {
  for (let i = at; i < to; i++) if (isSpace(text.charCodeAt(i))) return [i, skipSpace(text, i + 1)];
  return null;
};

function tokensOf(text: string, s: Span): number {
  return Math.ceil(utf8Bytes(text, s.start, s.end) / 4);
}

/** Splits one span into spans of at most `max` tokens, descending through the boundary kinds. */
function fit(text: string, span: Span, max: number, level: number): Span[] {
  if (tokensOf(text, span) <= max) return [span];
  const separator = [PARAGRAPH, SENTENCE, WORD][level];
  if (separator === undefined) {
    // No boundary left: cut by characters. A UTF-16 unit is at most three UTF-8 bytes, so a
    // piece of 4·max/3 units fits; a cut never separates a surrogate pair.
    const out: Span[] = [];
    const step = Math.max(2, Math.floor((max * 4) / 3));
    for (let at = span.start; at < span.end; ) {
      let end = Math.min(span.end, at + step);
      const code = text.charCodeAt(end);
      if (end < span.end && code >= 0xdc00 && code <= 0xdfff) end--;
      out.push({ start: at, end });
      at = end;
    }
    return out;
  }
  const parts = pieces(text, span.start, span.end, separator);
  if (parts.length <= 1) return fit(text, span, max, level + 1);
  return parts.flatMap((p) => fit(text, p, max, level + 1));
}

/**
 * Chunks of `text[from, to)` of at most `maxTokens` tokens each (estimated), in order, on the most
 * natural boundaries that allow it. The separators between two pieces packed into one chunk are
 * kept, so a chunk is always a verbatim slice of the document.
 */
export function chunkDocument(text: string, maxTokens: number, from = 0, to = text.length): Chunk[] {
  const units = fit(text, { start: from, end: to }, maxTokens, 0);
  const chunks: Chunk[] = [];
  const maxBytes = maxTokens * 4;
  let current: Span | null = null;
  // Bytes are additive where estimated tokens are not: a running count keeps packing linear.
  let bytes = 0;
  for (const unit of units) {
    const grown = current === null ? 0 : bytes + utf8Bytes(text, current.end, unit.end);
    if (current !== null && grown <= maxBytes) {
      current = { start: current.start, end: unit.end };
      bytes = grown;
      continue;
    }
    if (current !== null) chunks.push(materialise(text, current));
    current = unit;
    bytes = utf8Bytes(text, unit.start, unit.end);
  }
  if (current !== null) chunks.push(materialise(text, current));
  return chunks.filter((c) => c.text.length > 0);
}

function materialise(text: string, span: Span): Chunk {
  const raw = text.slice(span.start, span.end);
  const lead = raw.length - raw.trimStart().length;
  const body = raw.trim();
  return { start: span.start + lead, end: span.start + lead + body.length, text: body, tokens: estimateTokens(body) };
}

/**
 * A long prompt read as instruction + document: a short first paragraph that reads as an
 * instruction or question, and a short last one (e.g. "Answer:" or the question itself) are the
 * instruction; what lies between is the document. When neither edge reads as an instruction, the
 * whole text is the document and the instruction is empty.
 */
export function separateInstruction(text: string): { head: string; tail: string; document: Span } {
  const paras = pieces(text, 0, text.length, PARAGRAPH);
  const first = paras[0];
  const last = paras[paras.length - 1];
  const short = (s: Span) => s.end - s.start <= 1_000;
  const instructive = (s: string) => /[?:]\s*["”']?$|^\s*(?:question|task|instructions?|q)\s*:/i.test(s) || /^(?:please\s+)?(?:summari[sz]e|read|extract|answer|find|list|identify|explain|describe|translate|classify|what|who|which|how|why|when|where)\b/i.test(s);
  let start = 0;
  let end = text.length;
  let head = "";
  let tail = "";
  if (paras.length >= 3 && first && short(first) && instructive(text.slice(first.start, first.end).trim())) {
    head = text.slice(first.start, first.end).trim();
    start = paras[1]!.start;
  }
  if (paras.length >= 3 && last && last !== first && short(last) && instructive(text.slice(last.start, last.end).trim())) {
    tail = text.slice(last.start, last.end).trim();
    end = paras[paras.length - 2]!.end;
  }
  return { head, tail, document: { start, end } };
}
