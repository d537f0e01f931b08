// The published chat templates run in Python's Jinja (transformers, vLLM): their `tojson` is
// `json.dumps(value, ensure_ascii=False)` and their `trim` is `str.strip()`. A prompt must match
// what those produce character for character, so both are reproduced here rather than borrowed
// from JavaScript, whose JSON.stringify has no spaces after separators and whose trim strips a
// different set of characters.
//
// Values arrive as JavaScript values, so two differences from Python remain by construction: a
// float with a zero fraction (`1.0`) is the number 1, and an object's integer-like keys come first.

/**
 * `json.dumps(value, ensure_ascii=False, indent=indent)`: `", "` and `": "` between items without
 * an indent, one item a line with one. Properties whose value is `undefined` are left out, as
 * JSON.stringify leaves them out; values parsed from JSON have none.
 */
export function pythonJsonDumps(value: unknown, indent?: number): string {
  return dump(value, indent && indent > 0 ? " ".repeat(indent) : "", 0);
}

function dump(value: unknown, unit: string, depth: number): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      // Python escapes the same characters as JSON.stringify when ensure_ascii is off: the quote,
      // the backslash and control characters, with lowercase \u00xx for those without a short form.
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      return Array.isArray(value)
        ? container("[", "]", value.map((item) => dump(item, unit, depth + 1)), unit, depth)
        : container(
            "{",
            "}",
            Object.entries(value as Record<string, unknown>)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${JSON.stringify(k)}: ${dump(v, unit, depth + 1)}`),
            unit,
            depth,
          );
    default:
      return "null";
  }
}

function container(open: string, close: string, items: string[], unit: string, depth: number): string {
  if (items.length === 0) return open + close;
  if (!unit) return open + items.join(", ") + close;
  const inner = "\n" + unit.repeat(depth + 1);
  return open + inner + items.join("," + inner) + "\n" + unit.repeat(depth) + close;
}

/** What Python's `str.isspace()` accepts, the set `str.strip()` removes. */
export function isPythonSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Python's `str.strip()`, which Jinja's `trim` filter calls. */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPythonSpace(text.charCodeAt(start))) start++;
  while (end > start && isPythonSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}
