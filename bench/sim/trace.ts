/**
 * Request traces in the `TIMESTAMP,ContextTokens,GeneratedTokens` schema (the Azure LLM inference
 * traces and any file shaped like them). Pure: the caller reads the file and passes the text.
 */
export interface TraceRequest {
  /** Position in the trace after sorting by arrival. */
  index: number;
  /** Ms after the first request of the trace. */
  atMs: number;
  promptTokens: number;
  /** Tokens the request generated: asked for as max_tokens, and what the simulator produces. */
  completionTokens: number;
}

const REQUIRED = ["timestamp", "contexttokens", "generatedtokens"] as const;

/**
 * Reads the CSV; columns are found by header name (any order, any case). Timestamps are
 * `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` and a zone suffix are accepted; no zone means UTC) or
 * plain seconds. A malformed row is an error naming its line: a silently shortened trace would
 * give figures for a different workload.
 */
export function parseTrace(text: string, limit = Infinity): TraceRequest[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").replace(/^\uFEFF/, "").split(",").map((h) => h.trim().toLowerCase());
  const col = REQUIRED.map((name) => header.indexOf(name));
  const missing = REQUIRED.filter((_, i) => col[i]! < 0);
  if (missing.length > 0) throw new Error(`trace header must name TIMESTAMP,ContextTokens,GeneratedTokens; missing ${missing.join(", ")}`);
  const [tCol, cCol, gCol] = col as [number, number, number];

  const rows: { at: Stamp; prompt: number; generated: number; line: number }[] = [];
  for (let i = 1; i < lines.length && rows.length < limit; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const cells = line.split(",");
    const at = parseStamp(cells[tCol]?.trim() ?? "");
    const prompt = Number(cells[cCol]);
    const generated = Number(cells[gCol]);
    if (at === undefined || !Number.isInteger(prompt) || prompt < 0 || !Number.isInteger(generated) || generated < 0) {
      throw new Error(`trace line ${i + 1} is not TIMESTAMP,ContextTokens,GeneratedTokens: ${JSON.stringify(line.slice(0, 120))}`);
    }
    rows.push({ at, prompt, generated, line: i });
  }
  // Traces are normally in order; a stable sort keeps ties in file order when they are not.
  rows.sort((a, b) => a.at.s - b.at.s || a.at.ms - b.at.ms || a.line - b.line);
  const t0 = rows[0]?.at ?? { s: 0, ms: 0 };
  return rows.map((r, index) => ({
    index,
    // Whole seconds and the fraction apart: an epoch in ms as one double keeps only ~0.2 µs.
    atMs: (r.at.s - t0.s) * 1000 + (r.at.ms - t0.ms),
    promptTokens: r.prompt,
    // Every strike asks for at least one token.
    completionTokens: Math.max(1, r.generated),
  }));
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** A time as whole epoch seconds and the ms past them (fractional). */
interface Stamp {
  s: number;
  ms: number;
}

/** Epoch ms (fractional); differences between two of these lose digits below ~0.2 µs. */
export function parseTimestamp(raw: string): number | undefined {
  const st = parseStamp(raw);
  return st && st.s * 1000 + st.ms;
}

function parseStamp(raw: string): Stamp | undefined {
  if (/^\d+(\.\d+)?$/.test(raw)) {
    const [whole, frac] = raw.split(".");
    return { s: Number(whole), ms: frac ? Number(`0.${frac}`) * 1000 : 0 };
  }
  const m = STAMP.exec(raw);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  if (!Number.isFinite(base)) return undefined;
  let offsetS = 0;
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetS = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60;
  }
  return { s: base / 1000 - offsetS, ms: frac ? Number(`0.${frac}`) * 1000 : 0 };
}
