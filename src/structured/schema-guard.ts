// Client JSON Schemas are checked before anything validates against them. A schema may not make
// the validator run a client's regular expression (`pattern` can backtrack for minutes on a
// crafted string), fetch anything, or be deep enough to exhaust the stack.
import type { JsonSchema } from "../families/types";

const MAX_DEPTH = 32;
const MAX_NODES = 5_000;
/** Keywords refused, with why (the error names them). */
const REFUSED: Record<string, string> = {
  pattern: "regular expressions in schemas are not supported (they cannot be checked in bounded time); use enum, const or format",
  patternProperties: "regular expressions in schemas are not supported (they cannot be checked in bounded time); use properties or additionalProperties",
};
const REFERENCES = ["$ref", "$dynamicRef", "$recursiveRef"];

export type SchemaCheck = { ok: true } | { ok: false; path: string; message: string };

/** Whether a client's schema can be used; when not, where (a dotted path below `at`) and why. */
export function checkClientSchema(schema: unknown, at: string): SchemaCheck {
  let nodes = 0;
  const visit = (node: unknown, path: string, depth: number): SchemaCheck => {
    if (++nodes > MAX_NODES) return { ok: false, path: at, message: `schema is too large (more than ${MAX_NODES} parts)` };
    if (depth > MAX_DEPTH) return { ok: false, path, message: `schema is nested more than ${MAX_DEPTH} levels deep` };
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) {
        const r = visit(item, `${path}.${i}`, depth + 1);
        if (!r.ok) return r;
      }
      return { ok: true };
    }
    if (node === null || typeof node !== "object") return { ok: true };
    for (const [key, value] of Object.entries(node)) {
      const here = `${path}.${key}`;
      if (Object.hasOwn(REFUSED, key)) return { ok: false, path: here, message: REFUSED[key]! };
      if (REFERENCES.includes(key) && (typeof value !== "string" || !value.startsWith("#"))) {
        return { ok: false, path: here, message: "only references within the schema (starting with #) are supported" };
      }
      // `enum`/`const`/`examples`/`default` hold data, not schemas: a property named `pattern` there is fine.
      if (key === "enum" || key === "const" || key === "examples" || key === "default") continue;
      // Under `properties` (and friends) the keys are names, not keywords.
      const r = key === "properties" || key === "$defs" || key === "definitions" || key === "dependentSchemas"
        ? visitNamed(value, here, depth + 1)
        : visit(value, here, depth + 1);
      if (!r.ok) return r;
    }
    return { ok: true };
  };
  const visitNamed = (node: unknown, path: string, depth: number): SchemaCheck => {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return visit(node, path, depth);
    for (const [name, sub] of Object.entries(node)) {
      const r = visit(sub, `${path}.${name}`, depth + 1);
      if (!r.ok) return r;
    }
    return { ok: true };
  };
  if (typeof schema !== "boolean" && (schema === null || typeof schema !== "object" || Array.isArray(schema))) {
    return { ok: false, path: at, message: "a JSON Schema is an object (or true/false)" };
  }
  return visit(schema as JsonSchema, at, 0);
}
