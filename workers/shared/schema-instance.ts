// JSON values made up to fit a JSON Schema, for the emulators' tool-call arguments and structured
// answers: every choice comes from the PRNG it is given, so the same schema and seed always give
// the same value. Also values made to break a schema, and JSON text that does not parse, for the
// answers a model gets wrong.
//
// Covered: type (a name, a list of names, "null"), nullable (OpenAPI), const, enum; properties,
// required (always present), optional properties (a seeded coin), additionalProperties,
// patternProperties, propertyNames, min/maxProperties, dependentRequired; items, prefixItems,
// additionalItems, min/maxItems, uniqueItems, contains; minimum, maximum, exclusiveMinimum and
// exclusiveMaximum (both the draft-4 boolean and the later numeric form), multipleOf; minLength,
// maxLength, format (date, time, date-time, duration, email, hostname, ipv4, ipv6, uri, url,
// uri-reference, uri-template, uuid, regex, json-pointer, relative-json-pointer), pattern (simple
// regular expressions; otherwise still a string); anyOf and oneOf (one branch), allOf (merged);
// $ref to "#", "#/$defs/…", "#/definitions/…" or any JSON pointer into the root; true, false and
// {}. Recursive schemas are cut off by depth: past SHALLOW_DEPTH optional parts are left out,
// and past MAX_DEPTH a value that needs more nesting becomes null.
//
// Not covered (a value may not satisfy them): not, if/then/else, and oneOf branches that overlap
// (the chosen branch's value may match another one too).

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type SchemaObject = Record<string, unknown>;

/** Where merging keeps a second anyOf/oneOf met on the way (each needs one branch chosen). */
const MORE_BRANCHES = "x-more-branches";
/** Past this depth, optional properties and items are left out and non-recursive branches preferred. */
const SHALLOW_DEPTH = 4;
/** Past this depth a value that still needs nesting is cut off as null. */
const MAX_DEPTH = 24;
const TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"] as const;
type TypeName = (typeof TYPES)[number];

/** Short, plain words for strings and made-up property names. */
export const WORDS = [
  "river", "stone", "garden", "window", "light", "city", "cloud", "forest", "bridge", "paper",
  "music", "story", "amber", "north", "quiet", "bright", "swift", "blue", "green", "maple",
  "harbor", "meadow", "valley", "signal", "pattern", "orbit", "lantern", "copper", "silver", "pine",
] as const;

// ---------------------------------------------------------------------------------------------
// Reading a schema: references and allOf resolved into one plain object.

interface Context {
  root: unknown;
  random: () => number;
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The schema a "#…" reference points at inside `root`, or undefined. */
export function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return undefined;
  const fragment = ref.slice(1);
  if (fragment === "") return root;
  if (!fragment.startsWith("/")) return undefined;
  let current: unknown = root;
  for (const raw of fragment.slice(1).split("/")) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    } catch {
      return undefined;
    }
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isObject(current)) current = current[token];
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/**
 * A schema with $ref followed (its sibling keywords kept, as 2019-09 and later read them) and
 * allOf merged in: what is left has no $ref and no allOf. `false` stays false; true becomes {}.
 */
function flatten(schema: unknown, ctx: Context, refsFollowed = 0): SchemaObject | false {
  if (schema === false) return false;
  if (!isObject(schema)) return {};
  let current: SchemaObject = schema;
  if (typeof current.$ref === "string") {
    const { $ref, ...siblings } = current;
    // A cycle of bare references (#/$defs/a → #/$defs/b → #/$defs/a) would never end.
    const target = refsFollowed > MAX_DEPTH ? {} : resolveRef(ctx.root, $ref as string);
    const resolved = flatten(target ?? {}, ctx, refsFollowed + 1);
    if (resolved === false) return false;
    current = merge(resolved, siblings);
  }
  if (Array.isArray(current.allOf)) {
    const { allOf, ...rest } = current;
    let merged: SchemaObject | false = flatten(rest, ctx, refsFollowed);
    for (const part of allOf as unknown[]) {
      if (merged === false) return false;
      const flat = flatten(part, ctx, refsFollowed);
      if (flat === false) return false;
      merged = merge(merged, flat);
    }
    return merged;
  }
  return current;
}

/** Both schemas at once (allOf), as one schema: constraints combined, the tighter bound kept. */
function merge(a: SchemaObject, b: SchemaObject): SchemaObject {
  const out: SchemaObject = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (!Object.hasOwn(out, key)) {
      out[key] = value;
      continue;
    }
    const mine = out[key];
    switch (key) {
      case "properties": {
        const props: SchemaObject = { ...(mine as SchemaObject) };
        for (const [name, schema] of Object.entries(value as SchemaObject)) {
          props[name] = Object.hasOwn(props, name) ? { allOf: [props[name], schema] } : schema;
        }
        out.properties = props;
        break;
      }
      case "required":
        out.required = [...new Set([...(mine as string[]), ...(value as string[])])];
        break;
      case "type": {
        const left = typeList(mine);
        const right = typeList(value);
        const both = left.filter((t) => right.includes(t) || (t === "integer" && right.includes("number")));
        const more = right.filter((t) => t === "integer" && left.includes("number") && !both.includes(t));
        out.type = [...both, ...more];
        break;
      }
      case "enum":
        out.enum = (mine as unknown[]).filter((x) => (value as unknown[]).some((y) => sameJson(x, y)));
        break;
      case "minimum": case "exclusiveMinimum": case "minLength": case "minItems": case "minProperties":
        out[key] = typeof mine === "number" && typeof value === "number" ? Math.max(mine, value) : value;
        break;
      case "maximum": case "exclusiveMaximum": case "maxLength": case "maxItems": case "maxProperties":
        out[key] = typeof mine === "number" && typeof value === "number" ? Math.min(mine, value) : value;
        break;
      case "additionalProperties":
        out.additionalProperties = mine === false || value === false ? false : { allOf: [mine, value] };
        break;
      case "anyOf": case "oneOf":
        // Two sets of alternatives to satisfy at once: one branch of each is chosen.
        out[MORE_BRANCHES] = [...((out[MORE_BRANCHES] as unknown[][]) ?? []), value as unknown[]];
        break;
      case MORE_BRANCHES:
        out[MORE_BRANCHES] = [...(mine as unknown[][]), ...(value as unknown[][])];
        break;
      default:
        if (isObject(mine) && isObject(value)) out[key] = { allOf: [mine, value] };
        else out[key] = value;
    }
  }
  // A side that forbids other properties forbids those the other side adds.
  for (const side of [a, b]) {
    if (side.additionalProperties === false && isObject(out.properties)) {
      const allowed = isObject(side.properties) ? Object.keys(side.properties) : [];
      out.properties = Object.fromEntries(Object.entries(out.properties).filter(([name]) => allowed.includes(name)));
    }
  }
  return out;
}

function typeList(type: unknown): TypeName[] {
  if (typeof type === "string") return (TYPES as readonly string[]).includes(type) ? [type as TypeName] : [];
  if (Array.isArray(type)) return type.filter((t): t is TypeName => (TYPES as readonly string[]).includes(t));
  return [];
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with object keys sorted, so equal values give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Does following this schema (a little way) lead back into a reference? Used to end recursion. */
function mentionsRef(schema: unknown, budget = 200): boolean {
  let seen = 0;
  const walk = (node: unknown): boolean => {
    if (++seen > budget) return false;
    if (Array.isArray(node)) return node.some(walk);
    if (!isObject(node)) return false;
    if (typeof node.$ref === "string") return true;
    return Object.values(node).some(walk);
  };
  return walk(schema);
}

/** The types a flat schema allows: its `type`, or what its keywords are about when it has none. */
function allowedTypes(s: SchemaObject): TypeName[] {
  let types = typeList(s.type);
  if (s.type === undefined) {
    const has = (...keys: string[]) => keys.some((k) => k in s);
    if (has("properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties", "propertyNames", "dependentRequired")) types = ["object"];
    else if (has("items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems", "additionalItems")) types = ["array"];
    else if (has("minLength", "maxLength", "pattern", "format")) types = ["string"];
    else if (has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")) types = ["number"];
    else types = [];
  }
  if (s.nullable === true && types.length > 0 && !types.includes("null")) types = [...types, "null"];
  return types;
}

// ---------------------------------------------------------------------------------------------
// Generating a fitting value.

/** A value that fits `schema`, from the draws of `random`. */
export function instanceOf(schema: unknown, random: () => number): JsonValue {
  return generate(schema, { root: schema, random }, 0);
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

function intBetween(lo: number, hi: number, random: () => number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** `hops`: branches chosen at this depth so far; a branch that refers back to its own schema adds no depth. */
function generate(schema: unknown, ctx: Context, depth: number, hops = 0): JsonValue {
  const flat = flatten(schema, ctx);
  // Nothing fits `false`; null is the least surprising thing to say.
  if (flat === false) return null;
  const branches = branchSets(flat);
  if (branches.length > 0) {
    const { anyOf: _a, oneOf: _o, [MORE_BRANCHES]: _m, ...rest } = flat;
    let combined: SchemaObject | false = rest;
    for (const options of branches) {
      if (options.length === 0 || combined === false) continue;
      const chosen = chooseBranch(options, ctx, depth >= SHALLOW_DEPTH || hops >= SHALLOW_DEPTH);
      const flatChosen = flatten(chosen, ctx);
      combined = flatChosen === false ? false : merge(combined, flatChosen);
    }
    // Past MAX_DEPTH hops only referring branches were left: give up as with depth.
    return hops > MAX_DEPTH ? null : generate(combined, ctx, depth, hops + 1);
  }
  const { random } = ctx;
  if (Object.hasOwn(flat, "const")) return clone(flat.const);
  if (Array.isArray(flat.enum) && flat.enum.length > 0) return clone(pick(flat.enum, random));

  const types = allowedTypes(flat);
  if (types.length === 0) return anyValue(random);
  let type: TypeName;
  if (depth >= MAX_DEPTH && types.includes("null")) type = "null";
  else if (depth >= SHALLOW_DEPTH) type = [...types].sort((x, y) => nestingOf(x) - nestingOf(y))[0]!;
  else if (types.includes("null") && types.length > 1) {
    // Null now and then, as a model fills an optional-by-null field.
    const others = types.filter((t) => t !== "null");
    type = random() < 0.2 ? "null" : pick(others, random);
  } else type = pick(types, random);

  switch (type) {
    case "null":
      return null;
    case "boolean":
      return random() < 0.5;
    case "integer":
    case "number":
      return numberFor(flat, type === "integer", random);
    case "string":
      return stringFor(flat, random);
    case "array":
      return depth >= MAX_DEPTH ? null : arrayFor(flat, ctx, depth);
    case "object":
      return depth >= MAX_DEPTH ? null : objectFor(flat, ctx, depth);
  }
}

/** Every anyOf/oneOf list the flat schema must choose a branch from. */
function branchSets(flat: SchemaObject): unknown[][] {
  return [flat.anyOf, flat.oneOf, ...((flat[MORE_BRANCHES] as unknown[][] | undefined) ?? [])].filter(Array.isArray) as unknown[][];
}

/** Scalars first when the value is already deep: they end the recursion. */
function nestingOf(type: TypeName): number {
  return type === "object" || type === "array" ? 1 : 0;
}

function chooseBranch(options: unknown[], ctx: Context, deep: boolean): unknown {
  if (deep) {
    const flatOnes = options.filter((option) => !mentionsRef(option));
    if (flatOnes.length > 0) return pick(flatOnes, ctx.random);
  }
  return pick(options, ctx.random);
}

function clone(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

/** A value for a schema that says nothing: mostly a word, sometimes a number or a boolean. */
function anyValue(random: () => number): JsonValue {
  const roll = random();
  if (roll < 0.55) return pick(WORDS, random);
  if (roll < 0.8) return intBetween(0, 100, random);
  if (roll < 0.95) return random() < 0.5;
  return null;
}

// ---- numbers

interface Bounds {
  lo: number | undefined;
  hi: number | undefined;
  loOpen: boolean;
  hiOpen: boolean;
}

function boundsOf(s: SchemaObject): Bounds {
  let lo: number | undefined;
  let hi: number | undefined;
  let loOpen = false;
  let hiOpen = false;
  if (typeof s.minimum === "number") {
    lo = s.minimum;
    loOpen = s.exclusiveMinimum === true;
  }
  if (typeof s.exclusiveMinimum === "number" && (lo === undefined || s.exclusiveMinimum >= lo)) {
    lo = s.exclusiveMinimum;
    loOpen = true;
  }
  if (typeof s.maximum === "number") {
    hi = s.maximum;
    hiOpen = s.exclusiveMaximum === true;
  }
  if (typeof s.exclusiveMaximum === "number" && (hi === undefined || s.exclusiveMaximum <= hi)) {
    hi = s.exclusiveMaximum;
    hiOpen = true;
  }
  return { lo, hi, loOpen, hiOpen };
}

function withinBounds(x: number, b: Bounds): boolean {
  if (b.lo !== undefined && (b.loOpen ? x <= b.lo : x < b.lo)) return false;
  if (b.hi !== undefined && (b.hiOpen ? x >= b.hi : x > b.hi)) return false;
  return true;
}

/** As validators test multipleOf: the quotient is a whole number. */
function isMultiple(x: number, m: unknown): boolean {
  if (typeof m !== "number" || m <= 0) return true;
  const q = x / m;
  return Number.isFinite(q) && Number.isInteger(q);
}

function decimalsOf(m: number): number {
  const text = String(m);
  const exp = /e-(\d+)$/.exec(text);
  if (exp) return Number(exp[1]) + (text.split("e")[0]!.split(".")[1]?.length ?? 0);
  return text.split(".")[1]?.length ?? 0;
}

function numberFor(s: SchemaObject, integer: boolean, random: () => number): number {
  const b = boundsOf(s);
  // An open range gets a span of a hundred from whichever end it has.
  const lo = b.lo ?? (b.hi === undefined ? 0 : b.hi - 100);
  const hi = b.hi ?? lo + 100;
  const fits = (x: number) => withinBounds(x, b) && isMultiple(x, s.multipleOf) && (!integer || Number.isInteger(x));
  const m = typeof s.multipleOf === "number" && s.multipleOf > 0 ? s.multipleOf : undefined;

  if (m !== undefined) {
    const kLo = Math.ceil(lo / m);
    const kHi = Math.floor(hi / m);
    for (let attempt = 0; attempt < 24 && kLo <= kHi; attempt++) {
      const k = attempt < 20 ? intBetween(kLo, Math.min(kHi, kLo + 1000), random) : kLo + (attempt - 20);
      const raw = k * m;
      for (const x of [raw, Number(raw.toFixed(Math.min(20, decimalsOf(m)))), Math.round(raw)]) if (fits(x)) return x;
    }
    if (fits(0)) return 0;
    return kLo * m;
  }
  if (integer) {
    const iLo = b.loOpen ? Math.floor(lo) + 1 : Math.ceil(lo);
    const iHi = b.hiOpen ? Math.ceil(hi) - 1 : Math.floor(hi);
    if (iLo > iHi) return iLo;
    return intBetween(iLo, Math.min(iHi, iLo + 1_000_000), random);
  }
  const x = Math.round((lo + random() * (hi - lo)) * 100) / 100;
  if (fits(x)) return x;
  const mid = (lo + hi) / 2;
  return fits(mid) ? mid : lo;
}

// ---- strings

const HEX = "0123456789abcdef";

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function formatted(format: string, random: () => number): string | undefined {
  const word = () => pick(WORDS, random);
  const date = () => `${intBetween(2000, 2030, random)}-${pad2(intBetween(1, 12, random))}-${pad2(intBetween(1, 28, random))}`;
  const time = () => `${pad2(intBetween(0, 23, random))}:${pad2(intBetween(0, 59, random))}:${pad2(intBetween(0, 59, random))}Z`;
  switch (format) {
    case "date":
      return date();
    case "time":
      return time();
    case "date-time":
      return `${date()}T${time()}`;
    case "duration":
      return `P${intBetween(1, 30, random)}D`;
    case "email":
    case "idn-email":
      return `${word()}.${word()}@example.com`;
    case "hostname":
    case "idn-hostname":
      return `${word()}.example.com`;
    case "ipv4":
      return `192.0.2.${intBetween(1, 254, random)}`;
    case "ipv6":
      return `2001:db8::${intBetween(1, 0xfffe, random).toString(16)}`;
    case "uri":
    case "url":
    case "iri":
      return `https://example.com/${word()}`;
    case "uri-reference":
    case "iri-reference":
      return `/${word()}/${word()}`;
    case "uri-template":
      return `https://example.com/${word()}/{${word()}}`;
    case "uuid": {
      const hex = (n: number) => Array.from({ length: n }, () => HEX[Math.floor(random() * 16)]).join("");
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(["8", "9", "a", "b"], random)}${hex(3)}-${hex(12)}`;
    }
    case "regex":
      return `^${word()}$`;
    case "json-pointer":
      return `/${word()}/${intBetween(0, 9, random)}`;
    case "relative-json-pointer":
      return `${intBetween(0, 3, random)}/${word()}`;
    default:
      return undefined;
  }
}

function codePoints(text: string): number {
  return [...text].length;
}

function fitsLength(text: string, s: SchemaObject): boolean {
  const n = codePoints(text);
  return (typeof s.minLength !== "number" || n >= s.minLength) && (typeof s.maxLength !== "number" || n <= s.maxLength);
}

function testPattern(pattern: string, text: string): boolean {
  for (const flags of ["u", ""]) {
    try {
      return new RegExp(pattern, flags).test(text);
    } catch {
      // Not valid with this flag; try the next.
    }
  }
  return false;
}

function stringFor(s: SchemaObject, random: () => number): string {
  if (typeof s.format === "string") {
    const value = formatted(s.format, random);
    if (value !== undefined) return value;
  }
  if (typeof s.pattern === "string") {
    for (let attempt = 0; attempt < 8; attempt++) {
      const value = fromPattern(s.pattern, random);
      if (value !== undefined && testPattern(s.pattern, value) && fitsLength(value, s)) return value;
    }
  }
  const min = typeof s.minLength === "number" ? s.minLength : 0;
  const max = typeof s.maxLength === "number" ? s.maxLength : Infinity;
  let text = Array.from({ length: intBetween(1, 3, random) }, () => pick(WORDS, random)).join(" ");
  while (codePoints(text) < min) text += ` ${pick(WORDS, random)}`;
  if (codePoints(text) > max) text = [...text].slice(0, max).join("").replace(/ $/, "x");
  return text;
}

// A regular expression read as a recipe for a string: literals, escapes, classes, groups,
// alternation and quantifiers. Lookarounds and back-references are not followed (undefined).

type Node =
  | { kind: "chars"; chars: string[] }
  | { kind: "group"; alternatives: Node[][] }
  | { kind: "repeat"; node: Node; min: number; max: number };

const DIGITS = [..."0123456789"];
const LOWER = [..."abcdefghijklmnopqrstuvwxyz"];
const UPPER = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"];
const WORD_CHARS = [...LOWER, ...UPPER, ...DIGITS, "_"];
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

class PatternParser {
  private at = 0;
  constructor(private readonly source: string) {}

  parse(): Node[][] | undefined {
    const alternatives = this.alternatives();
    return this.at === this.source.length ? alternatives : undefined;
  }

  private alternatives(): Node[][] {
    const out: Node[][] = [this.sequence()];
    while (this.source[this.at] === "|") {
      this.at++;
      out.push(this.sequence());
    }
    return out;
  }

  private sequence(): Node[] {
    const nodes: Node[] = [];
    while (this.at < this.source.length && this.source[this.at] !== "|" && this.source[this.at] !== ")") {
      const atom = this.atom();
      if (atom === null) continue;
      nodes.push(this.quantified(atom));
    }
    return nodes;
  }

  private quantified(node: Node): Node {
    const c = this.source[this.at];
    let min: number;
    let max: number;
    if (c === "?") [min, max] = [0, 1];
    else if (c === "*") [min, max] = [0, 2];
    else if (c === "+") [min, max] = [1, 3];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.at));
      if (!m) return node;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? min + 2 : Number(m[3]);
      this.at += m[0].length - 1;
    } else return node;
    this.at++;
    if (this.source[this.at] === "?") this.at++;
    return { kind: "repeat", node, min, max: Math.min(max, min + 3) };
  }

  /** One atom, or null for an anchor (which produces nothing). */
  private atom(): Node | null {
    const c = this.source[this.at++]!;
    if (c === "^" || c === "$") return null;
    if (c === ".") return { kind: "chars", chars: [...LOWER, ...DIGITS] };
    if (c === "(") {
      if (this.source.startsWith("?:", this.at)) this.at += 2;
      else if (this.source[this.at] === "?") throw new Error("lookaround");
      const alternatives = this.alternatives();
      if (this.source[this.at] !== ")") throw new Error("unclosed group");
      this.at++;
      return { kind: "group", alternatives };
    }
    if (c === "[") return this.charClass();
    if (c === "\\") return { kind: "chars", chars: this.escape(false) };
    return { kind: "chars", chars: [c] };
  }

  private escape(inClass: boolean): string[] {
    const c = this.source[this.at++];
    switch (c) {
      case "d": return DIGITS;
      case "w": return WORD_CHARS;
      case "s": return [" "];
      case "D": return LOWER;
      case "W": return ["-", " ", "."];
      case "S": return LOWER;
      case "t": return ["\t"];
      case "n": return ["\n"];
      case "r": return ["\r"];
      case "b": if (inClass) return ["\b"]; throw new Error("word boundary");
      case "u": {
        const hex = /^[0-9a-fA-F]{4}/.exec(this.source.slice(this.at));
        if (!hex) throw new Error("escape");
        this.at += 4;
        return [String.fromCharCode(parseInt(hex[0], 16))];
      }
      case "x": {
        const hex = /^[0-9a-fA-F]{2}/.exec(this.source.slice(this.at));
        if (!hex) throw new Error("escape");
        this.at += 2;
        return [String.fromCharCode(parseInt(hex[0], 16))];
      }
      case undefined: throw new Error("trailing backslash");
      default:
        if (/[1-9]/.test(c)) throw new Error("back-reference");
        return [c];
    }
  }

  private charClass(): Node {
    const negated = this.source[this.at] === "^";
    if (negated) this.at++;
    const chars = new Set<string>();
    let first = true;
    while (this.at < this.source.length && (this.source[this.at] !== "]" || first)) {
      first = false;
      const start = this.classChar();
      if (this.source[this.at] === "-" && this.source[this.at + 1] !== "]" && start.length === 1) {
        this.at++;
        const end = this.classChar();
        if (end.length !== 1) throw new Error("range");
        const [from, to] = [start[0]!.codePointAt(0)!, end[0]!.codePointAt(0)!];
        for (let code = from; code <= to && code - from < 512; code++) chars.add(String.fromCodePoint(code));
      } else start.forEach((ch) => chars.add(ch));
    }
    if (this.source[this.at] !== "]") throw new Error("unclosed class");
    this.at++;
    const set = negated ? PRINTABLE.filter((ch) => !chars.has(ch)) : [...chars];
    if (set.length === 0) throw new Error("empty class");
    return { kind: "chars", chars: set };
  }

  private classChar(): string[] {
    const c = this.source[this.at++]!;
    return c === "\\" ? this.escape(true) : [c];
  }
}

/** A string the pattern matches (best effort; the caller checks it), or undefined. */
export function fromPattern(pattern: string, random: () => number): string | undefined {
  let tree: Node[][] | undefined;
  try {
    tree = new PatternParser(pattern).parse();
  } catch {
    return undefined;
  }
  if (tree === undefined) return undefined;
  const emit = (node: Node): string => {
    switch (node.kind) {
      case "chars":
        return pick(node.chars, random);
      case "group":
        return pick(node.alternatives, random).map(emit).join("");
      case "repeat":
        return Array.from({ length: intBetween(node.min, node.max, random) }, () => emit(node.node)).join("");
    }
  };
  return pick(tree, random).map(emit).join("");
}

// ---- arrays and objects

function arrayFor(s: SchemaObject, ctx: Context, depth: number): JsonValue[] {
  const { random } = ctx;
  const prefix: unknown[] = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
  const rest: unknown = Array.isArray(s.items) ? (s.additionalItems ?? true) : Array.isArray(s.prefixItems) ? (s.items ?? true) : (s.items ?? true);
  const min = typeof s.minItems === "number" ? s.minItems : 0;
  let max = typeof s.maxItems === "number" ? s.maxItems : Infinity;
  if (rest === false) max = Math.min(max, prefix.length);
  const upper = depth >= SHALLOW_DEPTH ? min : Math.min(max, Math.max(min, prefix.length, 1) + 2);
  const count = intBetween(min, Math.max(min, upper), random);
  const items: JsonValue[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const schema = i < prefix.length ? prefix[i] : rest;
    let item = generate(schema, ctx, depth + 1);
    if (s.uniqueItems === true) {
      for (let attempt = 0; attempt < 10 && seen.has(canonical(item)); attempt++) item = generate(schema, ctx, depth + 1);
      if (seen.has(canonical(item))) {
        if (items.length >= min) break;
      }
      seen.add(canonical(item));
    }
    items.push(item);
  }
  if (s.contains !== undefined && s.contains !== true && max >= 1) {
    const wanted = generate(s.contains, ctx, depth + 1);
    if (items.length === 0) items.push(wanted);
    else if (prefix.length === 0) items[0] = wanted;
  }
  return items;
}

function freshKey(taken: Set<string>, random: () => number): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const key = pick(WORDS, random);
    if (!taken.has(key)) return key;
  }
  let n = 2;
  while (taken.has(`${WORDS[0]}${n}`)) n++;
  return `${WORDS[0]}${n}`;
}

function objectFor(s: SchemaObject, ctx: Context, depth: number): { [key: string]: JsonValue } {
  const { random } = ctx;
  const props = isObject(s.properties) ? s.properties : {};
  const required = Array.isArray(s.required) ? (s.required.filter((r) => typeof r === "string") as string[]) : [];
  const patternProps = isObject(s.patternProperties) ? s.patternProperties : {};
  const additional = s.additionalProperties;
  const shallow = depth < SHALLOW_DEPTH;
  const out: { [key: string]: JsonValue } = {};
  const taken = new Set<string>([...Object.keys(props), ...required]);

  /** The schema a key not listed in properties must satisfy. */
  const schemaForExtra = (key: string): unknown => {
    const matching = Object.entries(patternProps).filter(([pattern]) => testPattern(pattern, key)).map(([, schema]) => schema);
    if (matching.length > 0) return matching.length === 1 ? matching[0] : { allOf: matching };
    return additional === undefined ? true : additional;
  };
  // defineProperty, so a property called "__proto__" is a property like any other.
  const put = (key: string, value: JsonValue) => Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  const valueFor = (key: string): JsonValue => generate(Object.hasOwn(props, key) ? props[key] : schemaForExtra(key), ctx, depth + 1);

  for (const key of Object.keys(props)) {
    if (props[key] === false && !required.includes(key)) continue;
    if (required.includes(key) || (shallow && random() < 0.5)) put(key, valueFor(key));
  }
  for (const key of required) if (!Object.hasOwn(out, key)) put(key, valueFor(key));

  // dependentRequired: a present key brings the keys it depends on.
  if (isObject(s.dependentRequired)) {
    for (const [key, deps] of Object.entries(s.dependentRequired)) {
      if (Object.hasOwn(out, key) && Array.isArray(deps)) {
        for (const dep of deps) if (typeof dep === "string" && !Object.hasOwn(out, dep)) put(dep, valueFor(dep));
      }
    }
  }

  const optional = Object.keys(props).filter((key) => !Object.hasOwn(out, key) && props[key] !== false);
  const minProps = typeof s.minProperties === "number" ? s.minProperties : 0;
  const maxProps = typeof s.maxProperties === "number" ? s.maxProperties : Infinity;
  while (Object.keys(out).length < minProps && optional.length > 0) {
    const key = optional.shift()!;
    put(key, valueFor(key));
  }

  // Extra keys: a free-form object (no properties named) gets a few; one whose additional
  // properties have a schema of their own may get some; otherwise none, as a model would add none.
  const freeForm = Object.keys(props).length === 0 && Object.keys(patternProps).length === 0 && additional !== false;
  const extraAllowed = additional !== false || Object.keys(patternProps).length > 0;
  let extras = 0;
  if (freeForm) extras = shallow ? intBetween(1, 3, random) : 0;
  else if (isObject(additional) && shallow) extras = intBetween(0, 2, random);
  extras = Math.max(extras, minProps - Object.keys(out).length);
  if (!extraAllowed) extras = 0;
  for (let i = 0; i < extras && Object.keys(out).length < maxProps; i++) {
    let key: string | undefined;
    if (additional === false) {
      const pattern = pick(Object.keys(patternProps), random);
      const candidate = fromPattern(pattern, random);
      key = candidate !== undefined && testPattern(pattern, candidate) && !Object.hasOwn(out, candidate) ? candidate : undefined;
    } else if (s.propertyNames !== undefined && s.propertyNames !== true) {
      const candidate = generate({ type: "string", ...(isObject(s.propertyNames) ? s.propertyNames : {}) }, ctx, depth + 1);
      key = typeof candidate === "string" && !Object.hasOwn(out, candidate) ? candidate : undefined;
    } else key = freshKey(new Set([...taken, ...Object.keys(out)]), random);
    if (key === undefined) continue;
    taken.add(key);
    put(key, valueFor(key));
  }
  // maxProperties: drop optional keys from the end until it fits.
  const keys = Object.keys(out);
  for (let i = keys.length - 1; i >= 0 && Object.keys(out).length > maxProps; i--) {
    if (!required.includes(keys[i]!)) delete out[keys[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Getting it wrong on purpose.

export interface Violation {
  value: JsonValue;
  /** What was done to break it, e.g. "required property city is a number". */
  how: string;
}

/** The JSON types a (sub)schema admits, or undefined when it admits any. */
function admittedTypes(schema: unknown, ctx: Context, depth = 0): Set<TypeName> | undefined {
  if (depth > 8) return undefined;
  const flat = flatten(schema, ctx);
  if (flat === false) return new Set();
  const branches = branchSets(flat);
  let fromBranches: Set<TypeName> | undefined;
  for (const options of branches) {
    const union = new Set<TypeName>();
    for (const option of options) {
      const types = admittedTypes(option, ctx, depth + 1);
      if (types === undefined) return undefined;
      types.forEach((t) => union.add(t));
    }
    fromBranches = fromBranches === undefined ? union : new Set([...fromBranches].filter((t) => union.has(t)));
  }
  let own: Set<TypeName> | undefined;
  if (Object.hasOwn(flat, "const")) own = new Set([jsonType(flat.const as JsonValue)]);
  else if (Array.isArray(flat.enum)) own = new Set(flat.enum.map((v) => jsonType(v as JsonValue)));
  else if (flat.type !== undefined) {
    own = new Set(typeList(flat.type));
    if (flat.nullable === true) own.add("null");
  }
  if (own === undefined) return fromBranches;
  if (fromBranches === undefined) return own;
  return new Set([...own].filter((t) => fromBranches!.has(t)));
}

function jsonType(value: JsonValue): TypeName {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as TypeName;
}

/** A value of a type the schema does not admit, or undefined if it admits every type. */
function wrongTypeValue(types: Set<TypeName> | undefined, random: () => number): JsonValue | undefined {
  if (types === undefined) return undefined;
  const admits = (t: TypeName) => types.has(t) || (t === "integer" && types.has("number"));
  const candidates: [TypeName, JsonValue][] = [
    ["string", pick(WORDS, random)],
    ["integer", intBetween(2, 99, random)],
    ["boolean", true],
    ["array", [pick(WORDS, random)]],
    ["object", { [pick(WORDS, random)]: pick(WORDS, random) }],
    ["null", null],
  ];
  const wrong = candidates.filter(([t]) => !admits(t) && !(t === "number" && types.has("integer")));
  if (wrong.length === 0) return undefined;
  return pick(wrong, random)[1];
}

/**
 * A value that `schema` rejects: a fitting value with one required property of the wrong type
 * or missing, or, for a schema without required properties, a value of the wrong type or one
 * outside its enum. Undefined when the schema admits everything.
 */
export function violationOf(schema: unknown, random: () => number): Violation | undefined {
  const ctx: Context = { root: schema, random };
  const flat = flatten(schema, ctx);
  if (flat === false) return { value: null, how: "the schema admits nothing" };
  const types = admittedTypes(schema, ctx);
  // An object without a required property is rejected whatever other types the schema admits.
  const canBeObject = types === undefined || types.has("object");
  const required = Array.isArray(flat.required) ? (flat.required.filter((r) => typeof r === "string") as string[]) : [];
  if (canBeObject && required.length > 0 && branchSets(flat).length === 0) {
    const base = generate({ ...flat, type: "object", nullable: false }, ctx, 0);
    if (isObject(base)) {
      const key = pick(required, random);
      const props = isObject(flat.properties) ? flat.properties : {};
      const wrong = Object.hasOwn(props, key) ? wrongTypeValue(admittedTypes(props[key], ctx), random) : undefined;
      if (wrong !== undefined && random() < 0.5) {
        return { value: { ...base, [key]: wrong }, how: `required property ${key} has the wrong type` };
      }
      const { [key]: _dropped, ...rest } = base;
      return { value: rest, how: `required property ${key} is missing` };
    }
  }
  const wrong = wrongTypeValue(types, random);
  if (wrong !== undefined) return { value: wrong, how: "the value has the wrong type" };
  if (Array.isArray(flat.enum) || Object.hasOwn(flat, "const")) {
    const allowed = Array.isArray(flat.enum) ? flat.enum : [flat.const];
    const outside = [...WORDS, "zzz-not-allowed"].find((w) => !allowed.some((a) => sameJson(a, w)))!;
    return { value: outside, how: "the value is not one of the allowed values" };
  }
  return undefined;
}

/**
 * The text cut off part-way through `text.slice(start, end)`, as output that stopped early looks:
 * what was inside that span no longer parses (its brackets or quotes are left open).
 */
export function cutShort(text: string, random: () => number, start = 0, end = text.length): string {
  const span = end - start;
  const keep = Math.min(span - 1, Math.max(1, Math.floor(span * (0.3 + 0.5 * random()))));
  return text.slice(0, start + Math.max(0, keep));
}

/** JSON text cut short so it does not parse (a bare number cut short still would: it gets an open bracket). */
export function unparsableJson(text: string, random: () => number): string {
  const cut = cutShort(text, random);
  try {
    JSON.parse(cut);
    return `[${cut}`;
  } catch {
    return cut;
  }
}
