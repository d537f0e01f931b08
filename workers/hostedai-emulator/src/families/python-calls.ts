// Gemma calls functions in Python: `[get_weather(city="Paris", days=3), get_time()]`. This writes
// such a list with Python literals (True/False/None, double-quoted strings with escapes, lists,
// dicts) and reads one back — also with JSON's true/false/null, as vLLM's Gemma template writes
// past calls with `tojson`, and single-quoted strings, as Python allows.

export interface PythonCall {
  name: string;
  /** Keyword arguments as an object; positional ones (rare) under "0", "1", …. */
  arguments: Record<string, unknown>;
}

/** A value as a Python literal. */
export function pyLiteral(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "None";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(", ")}}`;
}

/** `name(key=value, …)`, and where each call's arguments are written (between its parentheses). */
export function writeCallList(calls: readonly { name: string; arguments: unknown }[]): { text: string; argumentSpans: [number, number][] } {
  let text = "[";
  const argumentSpans: [number, number][] = [];
  calls.forEach((call, i) => {
    if (i > 0) text += ", ";
    text += `${call.name}(`;
    const start = text.length;
    const args = call.arguments;
    if (args !== null && typeof args === "object" && !Array.isArray(args)) {
      text += Object.entries(args as Record<string, unknown>).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${pyLiteral(v)}`).join(", ");
    } else if (args !== undefined) text += pyLiteral(args);
    argumentSpans.push([start, text.length]);
    text += ")";
  });
  return { text: `${text}]`, argumentSpans };
}

class Reader {
  at = 0;
  constructor(private readonly text: string) {}

  space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }

  take(token: string): boolean {
    this.space();
    if (!this.text.startsWith(token, this.at)) return false;
    this.at += token.length;
    return true;
  }

  expect(token: string): void {
    if (!this.take(token)) throw new Error(`expected ${token} at ${this.at}`);
  }

  identifier(): string | undefined {
    this.space();
    const m = /^[A-Za-z_][\w.-]*/.exec(this.text.slice(this.at, this.at + 256));
    if (!m) return undefined;
    this.at += m[0].length;
    return m[0];
  }

  callList(): PythonCall[] {
    this.expect("[");
    const calls: PythonCall[] = [];
    if (this.take("]")) return calls;
    do {
      if (this.take("]")) return calls;
      calls.push(this.call());
    } while (this.take(","));
    this.expect("]");
    return calls;
  }

  call(): PythonCall {
    const name = this.identifier();
    if (name === undefined) throw new Error(`expected a function name at ${this.at}`);
    this.expect("(");
    const args: Record<string, unknown> = {};
    let positional = 0;
    if (this.take(")")) return { name, arguments: args };
    do {
      if (this.take(")")) return { name, arguments: args };
      const mark = this.at;
      const key = this.identifier();
      if (key !== undefined && this.take("=")) args[key] = this.value();
      else {
        this.at = mark;
        args[String(positional++)] = this.value();
      }
    } while (this.take(","));
    this.expect(")");
    return { name, arguments: args };
  }

  value(): unknown {
    this.space();
    const c = this.text[this.at];
    if (c === '"' || c === "'") return this.string(c);
    if (c === "[" || c === "(") {
      const close = c === "[" ? "]" : ")";
      this.at++;
      const items: unknown[] = [];
      if (this.take(close)) return items;
      do {
        if (this.take(close)) return items;
        items.push(this.value());
      } while (this.take(","));
      this.expect(close);
      return items;
    }
    if (c === "{") {
      this.at++;
      const out: Record<string, unknown> = {};
      if (this.take("}")) return out;
      do {
        if (this.take("}")) return out;
        const key = this.value();
        this.expect(":");
        out[String(key)] = this.value();
      } while (this.take(","));
      this.expect("}");
      return out;
    }
    const number = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(this.text.slice(this.at, this.at + 400));
    if (number) {
      this.at += number[0].length;
      return Number(number[0]);
    }
    for (const [word, value] of [["True", true], ["False", false], ["None", null], ["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    throw new Error(`expected a value at ${this.at}`);
  }

  string(quote: string): string {
    this.at++;
    let out = "";
    while (this.at < this.text.length) {
      const c = this.text[this.at++]!;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.at++];
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", "0": "\0", "\\": "\\", "'": "'", '"': '"', "/": "/" };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === "u" || e === "x") {
        const width = e === "u" ? 4 : 2;
        const hex = this.text.slice(this.at, this.at + width);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) throw new Error("bad escape");
        out += String.fromCharCode(parseInt(hex, 16));
        this.at += width;
      } else out += `\\${e ?? ""}`;
    }
    throw new Error("unterminated string");
  }
}

/**
 * The calls in `text` when it is (after whitespace, and inside a ```tool_code fence if it has
 * one) exactly a Python list of calls; undefined otherwise.
 */
export function readCallList(text: string): PythonCall[] | undefined {
  let body = text.trim();
  const fence = /^```(?:tool_code|python)?\s*\n([\s\S]*?)\n?```$/.exec(body);
  if (fence) body = fence[1]!.trim();
  if (!body.startsWith("[")) return undefined;
  const reader = new Reader(body);
  try {
    const calls = reader.callList();
    reader.space();
    return reader.at === body.length && calls.length > 0 ? calls : undefined;
  } catch {
    return undefined;
  }
}
