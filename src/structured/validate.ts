// JSON Schema validation of tool arguments and structured answers, with a validator that runs in
// Workers (no code generation). Client schemas are checked before use: see schema-guard.ts.
import { Validator, type OutputUnit } from "@cfworker/json-schema";
import type { JsonSchema } from "../families/types";

/** Compiled validators by schema text: agents send the same tools with every turn. */
const compiled = new Map<string, Validator>();
const MAX_COMPILED = 256;

function validatorFor(schema: JsonSchema): Validator {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (v) {
    // Most recently used last, so the oldest goes first when the map is full.
    compiled.delete(key);
  } else {
    v = new Validator(schema as object | boolean as never, "2020-12", false);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  }
  compiled.set(key, v);
  return v;
}

/** Errors that only say a child failed: the child's own error says what is wrong. */
const WRAPPERS = new Set(["properties", "items", "prefixItems", "allOf", "$ref", "$dynamicRef", "unevaluatedProperties", "unevaluatedItems", "dependentSchemas", "if", "then", "else", "contains"]);
const MAX_REPORTED = 3;

function describe(errors: readonly OutputUnit[]): string {
  const leaves = errors.filter((e) => !WRAPPERS.has(e.keyword));
  const shown = (leaves.length > 0 ? leaves : errors).slice(0, MAX_REPORTED);
  const text = shown.map((e) => `at ${e.instanceLocation.replace(/^#/, "") || "/"}: ${e.error}`).join("; ");
  return errors.length > shown.length && leaves.length > MAX_REPORTED ? `${text} (and more)` : text;
}

export type Validation = { ok: true } | { ok: false; error: string };

/** Whether `value` matches `schema`; when not, the first few reasons, each with where it applies. */
export function validateAgainst(schema: JsonSchema, value: unknown): Validation {
  try {
    const result = validatorFor(schema).validate(value);
    return result.valid ? { ok: true } : { ok: false, error: describe(result.errors) };
  } catch (err) {
    // A schema the validator cannot apply (a reference to nothing, say): the edge tries each
    // schema once on the way in (schemaUsable) so a client hears this as a 400 before any inference.
    return { ok: false, error: `the schema cannot be applied: ${(err as Error).message}` };
  }
}

/** Whether the validator can apply a schema at all; the reason when it cannot. */
export function schemaUsable(schema: JsonSchema): Validation {
  try {
    validatorFor(schema).validate(null);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
