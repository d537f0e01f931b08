// Reading calls written as Python: `[get_weather(city="Paris", days=3), get_time()]`. Gemma has
// no tool tokens; it is asked for this form and writes it, with Python literals (single or double
// quotes, True/False/None, tuples) or with the JSON values its template shows it (true/false/null).
// A hand-written reader, one pass over the text: a regular expression for nested brackets and
// quoted strings would backtrack, and answers are text a client can steer.
import { shownName } from "./tool-calls";
import type { ParsedToolCall } from "./types";

export type CallsRead = { ok: true; calls: ParsedToolCall[]; end: number } | { ok: false; error: string };

/** Deeper nesting than any real argument has; the limit keeps the recursion far from the stack's. */
const MAX_DEPTH = 64;

class Unreadable {
  constructor(readonly reason: string) {}
}

const SIMPLE_ESCAPES = new Map<string, string>([
  ["\n", ""], ["\\", "\\"], ["'", "'"], ['"', '"'], ["a", "\x07"], ["b", "\b"], ["f", "\f"], ["n", "\n"], ["r", "\r"], ["t", "\t"], ["v", "\v"], ["/", "/"],
]);

function isHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return false;
  }
  return true;
}

const isNameStart = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d;
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Whether the text at `start` opens a list of calls: `[`, a function name, `(`. */
export function opensCallList(text: string, start: number): boolean {
  if (text.charCodeAt(start) !== 0x5b) return false;
  let i = start + 1;
  while (isSpace(text.charCodeAt(i))) i++;
  if (!isNameStart(text.charCodeAt(i))) return false;
  while (isNameChar(text.charCodeAt(i))) i++;
  // `[see (below)]` is prose: a call has its bracket right after the name.
  return text.charCodeAt(i) === 0x28;
}

/** The list of calls that opens at `start`, and where it ends. */
export function readCallList(text: string, start: number): CallsRead {
  return attempt(() => new Reader(text, start).callList());
}

/** A whole text of calls: one list, or calls one after another (Google's ```tool_code form). */
export function readCallsOnly(text: string): CallsRead {
  return attempt(() => new Reader(text, 0).callsOnly());
}

function attempt(read: () => { calls: ParsedToolCall[]; end: number }): CallsRead {
  try {
    return { ok: true, ...read() };
  } catch (e) {
    if (e instanceof Unreadable) return { ok: false, error: e.reason };
    throw e;
  }
}

class Reader {
  constructor(
    private readonly text: string,
    private pos: number,
  ) {}

  callList(): { calls: ParsedToolCall[]; end: number } {
    const calls = this.sequence(0x5b, 0x5d, "the list of calls", () => this.call());
    return { calls, end: this.pos };
  }

  callsOnly(): { calls: ParsedToolCall[]; end: number } {
    this.skipSpace();
    let calls: ParsedToolCall[] = [];
    if (this.peek() === 0x5b) {
      calls = this.callList().calls;
    } else {
      while (this.pos < this.text.length) {
        calls.push(this.call());
        while (isSpace(this.peek()) || this.peek() === 0x2c || this.peek() === 0x3b) this.pos++;
      }
    }
    this.skipSpace();
    if (this.pos < this.text.length) throw new Unreadable("there is text after the calls that is not a call");
    if (calls.length === 0) throw new Unreadable("no function call was found");
    return { calls, end: this.pos };
  }

  private call(): ParsedToolCall {
    this.skipSpace();
    const fullName = this.name();
    if (!fullName) throw new Unreadable(`expected a function name ${this.where()}`);
    const name = shownName(fullName);
    this.skipSpace();
    if (this.peek() !== 0x28) throw new Unreadable(`expected "(" after the function name ${name}`);
    const keywords: [string, unknown][] = [];
    const positional: unknown[] = [];
    this.sequence(0x28, 0x29, `the call to ${name}`, () => {
      const keyword = this.keyword();
      if (keyword === undefined) {
        if (keywords.length > 0) throw new Unreadable(`a positional argument follows a keyword argument in the call to ${name}`);
        positional.push(this.value(1));
      } else {
        keywords.push([keyword, this.value(1)]);
      }
    });
    if (keywords.length > 0 && positional.length > 0) throw new Unreadable(`the call to ${name} mixes positional and keyword arguments`);
    return { name: fullName, arguments: positional.length > 0 ? positional : Object.fromEntries(keywords) };
  }

  /** `open` item (`,` item)* `,`? `close`, each item read by `item`; the items, in order. */
  private sequence<T>(open: number, close: number, what: string, item: () => T): T[] {
    this.pos++; // past `open`, which the caller has seen
    const items: T[] = [];
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) throw new Unreadable(`${what} is not closed with "${String.fromCharCode(close)}"`);
      if (this.peek() === close) break;
      items.push(item());
      this.skipSpace();
      if (this.peek() === 0x2c) {
        this.pos++;
      } else if (this.peek() !== close) {
        if (this.pos >= this.text.length) throw new Unreadable(`${what} is not closed with "${String.fromCharCode(close)}"`);
        throw new Unreadable(`expected "," or "${String.fromCharCode(close)}" in ${what} ${this.where()}`);
      }
    }
    this.pos++;
    return items;
  }

  /** `name =` ahead: the name, past the `=`; otherwise nothing is consumed. */
  private keyword(): string | undefined {
    const start = this.pos;
    const name = this.name();
    this.skipSpace();
    if (name && this.peek() === 0x3d && this.text.charCodeAt(this.pos + 1) !== 0x3d) {
      this.pos++;
      return name;
    }
    this.pos = start;
    return undefined;
  }

  private value(depth: number): unknown {
    if (depth > MAX_DEPTH) throw new Unreadable("the arguments are nested too deeply");
    this.skipSpace();
    const c = this.peek();
    if (c === 0x22 || c === 0x27) return this.string(false);
    if ((c === 0x72 || c === 0x52 || c === 0x75 || c === 0x55) && (this.at(1) === 0x22 || this.at(1) === 0x27)) {
      this.pos++;
      return this.string(c === 0x72 || c === 0x52);
    }
    if (isDigit(c) || c === 0x2d || c === 0x2b || (c === 0x2e && isDigit(this.at(1)))) return this.number();
    if (c === 0x5b) return this.sequence(0x5b, 0x5d, "a list", () => this.value(depth + 1));
    if (c === 0x28) return this.tuple(depth);
    if (c === 0x7b) return this.dict(depth);
    if (isNameStart(c)) {
      const word = this.name();
      if (word === "True" || word === "true") return true;
      if (word === "False" || word === "false") return false;
      if (word === "None" || word === "null") return null;
      throw new Unreadable(`${shownName(word)} is not a literal value: arguments must be strings, numbers, True, False, None, lists or dicts`);
    }
    if (this.pos >= this.text.length) throw new Unreadable("the text ends where an argument value should be");
    throw new Unreadable(`expected an argument value ${this.where()}`);
  }

  /** A tuple is read as a list; `(x)` without a comma is only x in brackets, as in Python. */
  private tuple(depth: number): unknown {
    const items = this.sequence(0x28, 0x29, "a tuple", () => this.value(depth + 1));
    if (items.length !== 1) return items;
    let i = this.pos - 2;
    while (i >= 0 && isSpace(this.text.charCodeAt(i))) i--;
    return this.text.charCodeAt(i) === 0x2c ? items : items[0];
  }

  /** A dict, its keys written as json.dumps writes them; a set (no colons) is read as a list. */
  private dict(depth: number): unknown {
    const entries: [string, unknown][] = [];
    const members: unknown[] = [];
    this.sequence(0x7b, 0x7d, "a dict", () => {
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.peek() === 0x3a) {
        this.pos++;
        entries.push([typeof key === "string" ? key : JSON.stringify(key), this.value(depth + 1)]);
      } else {
        members.push(key);
      }
    });
    if (entries.length > 0 && members.length > 0) throw new Unreadable("a dict has an entry without a value");
    return members.length > 0 ? members : Object.fromEntries(entries);
  }

  private number(): number {
    const start = this.pos;
    if (this.peek() === 0x2d || this.peek() === 0x2b) this.pos++;
    const radix = this.peek() === 0x30 ? { x: 16, X: 16, o: 8, O: 8, b: 2, B: 2 }[this.text.charAt(this.pos + 1)] : undefined;
    let value: number;
    if (radix) {
      this.pos += 2;
      const digitsStart = this.pos;
      while (this.pos < this.text.length && (Number.isInteger(parseInt(this.text.charAt(this.pos), radix)) || this.peek() === 0x5f)) this.pos++;
      const magnitude = parseInt(this.text.slice(digitsStart, this.pos).replaceAll("_", ""), radix);
      value = this.text.charCodeAt(start) === 0x2d ? -magnitude : magnitude;
    } else {
      this.digits();
      if (this.peek() === 0x2e) {
        this.pos++;
        this.digits();
      }
      if (this.peek() === 0x65 || this.peek() === 0x45) {
        this.pos++;
        if (this.peek() === 0x2d || this.peek() === 0x2b) this.pos++;
        this.digits();
      }
      value = Number(this.text.slice(start, this.pos).replaceAll("_", ""));
    }
    if (!Number.isFinite(value)) throw new Unreadable(`${shownName(this.text.slice(start, this.pos)) || "a sign"} is not a number`);
    return value;
  }

  private digits(): void {
    while (isDigit(this.peek()) || this.peek() === 0x5f) this.pos++;
  }

  private string(raw: boolean): string {
    const quote = this.peek();
    const triple = this.at(1) === quote && this.at(2) === quote;
    this.pos += triple ? 3 : 1;
    let out = "";
    for (;;) {
      if (this.pos >= this.text.length) throw new Unreadable("a string is not closed");
      const c = this.peek();
      if (c === quote && (!triple || (this.at(1) === quote && this.at(2) === quote))) {
        this.pos += triple ? 3 : 1;
        return out;
      }
      if (c !== 0x5c) {
        // Copy the run up to the next quote or backslash in one slice.
        let end = this.pos + 1;
        while (end < this.text.length && this.text.charCodeAt(end) !== quote && this.text.charCodeAt(end) !== 0x5c) end++;
        out += this.text.slice(this.pos, end);
        this.pos = end;
      } else if (raw) {
        out += this.text.slice(this.pos, this.pos + 2);
        this.pos += 2;
      } else {
        out += this.escape();
      }
    }
  }

  /** One escape after a backslash, as Python reads it (and JSON's `\/`); unknown ones stay as written. */
  private escape(): string {
    const e = this.text.charAt(this.pos + 1);
    this.pos += 2;
    const simple = SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) return simple;
    const hexLength = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hexLength > 0) {
      const hex = this.text.slice(this.pos, this.pos + hexLength);
      const code = hex.length === hexLength && isHex(hex) ? parseInt(hex, 16) : NaN;
      if (!(code <= 0x10ffff)) throw new Unreadable(`a string has a malformed \\${e} escape`);
      this.pos += hexLength;
      return String.fromCodePoint(code);
    }
    if (e >= "0" && e <= "7") {
      let end = this.pos;
      while (end < this.pos + 2 && this.text.charAt(end) >= "0" && this.text.charAt(end) <= "7") end++;
      const code = parseInt(e + this.text.slice(this.pos, end), 8);
      this.pos = end;
      return String.fromCharCode(code);
    }
    return "\\" + e;
  }

  private name(): string {
    const start = this.pos;
    if (!isNameStart(this.peek())) return "";
    while (isNameChar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private skipSpace(): void {
    while (isSpace(this.peek())) this.pos++;
  }

  private peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  private at(offset: number): number {
    return this.text.charCodeAt(this.pos + offset);
  }

  private where(): string {
    const found = this.text.slice(this.pos, this.pos + 12);
    return this.pos >= this.text.length ? "at the end of the text" : `at ${JSON.stringify(found)}`;
  }
}
