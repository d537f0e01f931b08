/**
 * Cutting a long document into chunks on natural boundaries: paragraphs first; a paragraph too
 * big for a chunk is cut between sentences; a sentence too big, between words; a "word" too big
 * (a base64 blob, a minified line), by characters. Adjacent pieces are then packed greedily up to
 * the chunk size, so chunks are as few as the size allows and every cut is the most natural one
 * available. Chunks carry their character offsets, so a missing chunk can be named precisely.
 */
import { estimateTokens, utf8Bytes } from "./request";

export interface Span {
  start: number;
  end: number;
}

export interface Chunk extends Span {
  text: string;
  tokens: number;
}

/** Offsets of the pieces `text[from, to)` splits into at `separator`, separators left out. */
function pieces(text: string, from: number, to: number, separator: RegExp): Span[] {
  const out: Span[] = [];
  const re = new RegExp(separator.source, "g");
  re.lastIndex = from;
  let at = from;
  for (let m = re.exec(text); m !== null && m.index < to; m = re.exec(text)) {
    // A zero-width boundary (after "。") separates without consuming anything.
    if (m[0].length === 0) re.lastIndex++;
    if (m.index > at) out.push({ start: at, end: Math.min(m.index, to) });
    at = m.index + m[0].length;
  }
  if (at < to) out.push({ start: at, end: to });
  return out;
}

const PARAGRAPH = /\n[ \t]*\n\s*/;
// After sentence-final punctuation (and any closing quotes or brackets), before the next sentence.
const SENTENCE = /(?<=[.!?…]["'”’)\]]*)\s+|(?<=[。！？])/;
const WORD = /\s+/;

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
