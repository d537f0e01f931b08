// Values generated for a JSON Schema, checked by Ajv (an independent validator) over schemas
// fast-check makes up, plus the shapes zod and pydantic emit; values made to break a schema are
// checked to be rejected, and text cut short to not parse.
import { format as formats } from "@cfworker/json-schema";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pyJson } from "../json-text";
import { mulberry32 } from "../random";
import { cutShort, fromPattern, instanceOf, unparsableJson, violationOf } from "../schema-instance";

// Formats are checked by @cfworker/json-schema's format checks, not by anything of ours.
function withFormats<T extends { addFormat: (name: string, check: (s: string) => boolean) => unknown }>(ajv: T): T {
  for (const [name, check] of Object.entries(formats)) ajv.addFormat(name, (s: string) => check(s));
  return ajv;
}
const ajv2020 = withFormats(new Ajv2020({ strict: false, allErrors: false }));
const ajv7 = withFormats(new Ajv({ strict: false, allErrors: false }));

function valid(schema: unknown, value: unknown, draft7 = false): boolean {
  const validator = draft7 ? ajv7 : ajv2020;
  return validator.validate(schema as object | boolean, value) as boolean;
}

/** Fails, saying why, unless `value` fits `schema` (or, with `fits` false, unless it does not). */
function expectFit(schema: unknown, value: unknown, { draft7 = false, fits = true, note = "" } = {}): void {
  const validator = draft7 ? ajv7 : ajv2020;
  const check = validator.compile(schema as object | boolean);
  if ((check(value) as boolean) === fits) return;
  const why = `${note}\nschema: ${JSON.stringify(schema)}\nvalue: ${JSON.stringify(value)}\nerrors: ${JSON.stringify(check.errors)}`;
  expect.fail(fits ? `does not fit: ${why}` : `fits, but should not: ${why}`);
}

// ---- schemas fast-check makes up (always satisfiable, so a failure is the generator's)

const FORMATS = ["date", "time", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "uri", "uri-reference", "uuid", "json-pointer", "relative-json-pointer", "uri-template", "regex"];
const PATTERNS = [
  "^[a-z]+$", "^[A-Z]{3}-\\d{4}$", "^\\d{5}(-\\d{4})?$", "^(red|green|blue)$", "^[a-f0-9]{8}$", "abc",
  "^\\+?[0-9]{7,12}$", "^[A-Za-z_][A-Za-z0-9_]*$", "^v\\d+\\.\\d+\\.\\d+$", "^[^@\\s]+@example\\.org$",
];

const bound = fc.integer({ min: -1000, max: 1000 });

const stringSchema = fc.oneof(
  fc.record({ type: fc.constant("string") }),
  fc.tuple(fc.nat({ max: 30 }), fc.nat({ max: 30 })).map(([a, b]) => ({ type: "string", minLength: Math.min(a, b), maxLength: Math.max(a, b) })),
  fc.nat({ max: 40 }).map((n) => ({ type: "string", minLength: n })),
  fc.constantFrom(...FORMATS).map((format) => ({ type: "string", format })),
  fc.constantFrom(...PATTERNS).map((pattern) => ({ type: "string", pattern })),
);

const integerSchema = fc.oneof(
  fc.constant({ type: "integer" }),
  fc.tuple(bound, fc.nat({ max: 500 })).map(([lo, span]) => ({ type: "integer", minimum: lo, maximum: lo + span })),
  fc.tuple(bound, fc.integer({ min: 2, max: 500 })).map(([lo, span]) => ({ type: "integer", exclusiveMinimum: lo, exclusiveMaximum: lo + span })),
  fc.tuple(bound, fc.integer({ min: 1, max: 9 })).map(([lo, m]) => ({ type: "integer", minimum: lo, multipleOf: m })),
  bound.map((hi) => ({ type: "integer", maximum: hi })),
);

const numberSchema = fc.oneof(
  fc.constant({ type: "number" }),
  fc.tuple(bound, fc.integer({ min: 1, max: 500 })).map(([lo, span]) => ({ type: "number", minimum: lo / 10, maximum: lo / 10 + span })),
  fc.tuple(bound, fc.integer({ min: 1, max: 500 })).map(([lo, span]) => ({ type: "number", exclusiveMinimum: lo, exclusiveMaximum: lo + span / 100 })),
  fc.tuple(bound, fc.constantFrom(0.5, 0.25, 0.1, 0.01, 3, 0.2)).map(([lo, m]) => ({ type: "number", minimum: lo, maximum: lo + 50, multipleOf: m })),
);

const scalarSchema = fc.oneof(
  stringSchema,
  integerSchema,
  numberSchema,
  fc.constant({ type: "boolean" }),
  fc.constant({ type: "null" }),
  fc.constant(true),
  fc.constant({}),
  fc.uniqueArray(fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null)), { minLength: 1, maxLength: 5, selector: (v) => JSON.stringify(v) })
    .map((values) => ({ enum: values })),
  // Ajv's deep equality calls an object's own valueOf/toString, so keys that shadow them are left out.
  fc.jsonValue({ maxDepth: 2 }).filter((value) => !/"(valueOf|toString)":/.test(JSON.stringify(value))).map((value) => ({ const: value })),
  stringSchema.map((s) => ({ ...s, nullable: true })),
  fc.constant({ type: ["string", "null"] }),
  fc.constant({ type: ["integer", "boolean"] }),
  fc.constant({ type: "string", enum: ["celsius", "fahrenheit"] }),
);

const KEYS = ["city", "days", "unit", "name", "tags", "when", "limit", "query", "options", "id"];

const { schema: anySchema } = fc.letrec<{ schema: unknown; object: unknown; array: unknown }>((tie) => ({
  schema: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalarSchema, tie("object"), tie("array"),
    fc.array(tie("schema"), { minLength: 1, maxLength: 3 }).map((anyOf) => ({ anyOf })),
    // oneOf as zod and pydantic write discriminated unions: each branch fixes the tag.
    fc.array(tie("object"), { minLength: 1, maxLength: 3 }).map((branches) => ({
      oneOf: branches.map((branch, i) => {
        const b = branch as { properties: Record<string, unknown>; required: string[] };
        return { ...b, properties: { ...b.properties, kind: { const: `k${i}` } }, required: [...b.required, "kind"] };
      }),
    })),
    fc.tuple(tie("object"), tie("object")).map(([a, b]) => ({ allOf: [open(a), open(b, "2")] })),
  ),
  object: fc
    .tuple(
      fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 5 }),
      fc.array(tie("schema"), { minLength: 5, maxLength: 5 }),
      fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      fc.constantFrom<unknown>(undefined, false, true, { type: "integer" }, { type: "string" }),
      fc.option(fc.nat({ max: 3 }), { nil: undefined }),
    )
    .map(([keys, schemas, requiredFlags, additionalProperties, minProperties]) => {
      const properties = Object.fromEntries(keys.map((k, i) => [k, schemas[i]]));
      const required = keys.filter((_, i) => requiredFlags[i]);
      const schema: Record<string, unknown> = { type: "object", properties, required };
      if (additionalProperties !== undefined) schema.additionalProperties = additionalProperties;
      // Satisfiable: no more properties asked for than can be written.
      if (minProperties !== undefined && (additionalProperties !== false || minProperties <= keys.length)) schema.minProperties = minProperties;
      return schema;
    }),
  array: fc.oneof(
    fc.tuple(tie("schema"), fc.nat({ max: 3 }), fc.nat({ max: 4 })).map(([items, min, extra]) => ({ type: "array", items, minItems: min, maxItems: min + extra })),
    fc.tuple(fc.array(tie("schema"), { minLength: 1, maxLength: 3 }), fc.constantFrom<unknown>(undefined, false, { type: "string" }))
      .map(([prefixItems, items]) => (items === undefined ? { type: "array", prefixItems } : { type: "array", prefixItems, items })),
    fc.nat({ max: 5 }).map((min) => ({ type: "array", items: { type: "integer", minimum: 0, maximum: 1000 }, uniqueItems: true, minItems: min })),
    fc.constant({ type: "array", contains: { type: "string", format: "email" } }),
  ),
}));

/**
 * An object schema that lets other branches of an allOf add their properties; its keys renamed
 * with `suffix` so two branches never constrain one property in ways nothing satisfies.
 */
function open(schema: unknown, suffix = ""): unknown {
  const { additionalProperties: _drop, minProperties: _min, properties, required, ...rest } = schema as Record<string, unknown>;
  const rename = (k: string) => `${k}${suffix}`;
  return {
    ...rest,
    properties: Object.fromEntries(Object.entries(properties as Record<string, unknown>).map(([k, v]) => [rename(k), v])),
    required: (required as string[]).map(rename),
  };
}

// ---- schemas as zod (v4 toJSONSchema) and pydantic (v2 model_json_schema) write them

const PYDANTIC_TREE = {
  $defs: {
    Node: {
      properties: {
        label: { title: "Label", type: "string" },
        children: { items: { $ref: "#/$defs/Node" }, title: "Children", type: "array" },
        parent: { anyOf: [{ $ref: "#/$defs/Node" }, { type: "null" }], default: null },
      },
      required: ["label", "children"],
      title: "Node",
      type: "object",
    },
  },
  properties: { root: { $ref: "#/$defs/Node" }, created: { format: "date-time", title: "Created", type: "string" } },
  required: ["root"],
  title: "Tree",
  type: "object",
};

const ZOD_EVENT = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    id: { type: "string", format: "uuid", pattern: "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000)$" },
    email: { type: "string", format: "email", pattern: "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$" },
    when: { type: "string", format: "date" },
    attendees: { type: "array", items: { $ref: "#/$defs/__schema0" }, minItems: 1, maxItems: 4 },
    priority: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 },
    kind: { oneOf: [{ type: "object", properties: { type: { type: "string", const: "online" }, url: { type: "string", format: "uri" } }, required: ["type", "url"], additionalProperties: false }, { type: "object", properties: { type: { type: "string", const: "venue" }, address: { type: "string", minLength: 3 } }, required: ["type", "address"], additionalProperties: false }] },
    note: { anyOf: [{ type: "string", maxLength: 20 }, { type: "null" }] },
  },
  required: ["id", "email", "when", "attendees", "kind"],
  additionalProperties: false,
  $defs: { __schema0: { type: "object", properties: { name: { type: "string" }, age: { type: "number", exclusiveMinimum: 0 } }, required: ["name"], additionalProperties: false } },
};

const DRAFT7_LIST = {
  definitions: { item: { type: "object", properties: { value: { type: "integer" }, next: { $ref: "#/definitions/item" } }, required: ["value"] } },
  type: "object",
  properties: { head: { $ref: "#/definitions/item" }, pair: { type: "array", items: [{ type: "string" }, { type: "number" }], additionalItems: false } },
  required: ["head", "pair"],
};

const ROOT_RECURSION = { type: "object", properties: { name: { type: "string" }, sub: { $ref: "#" } }, required: ["name", "sub"] };

describe("instanceOf", () => {
  it("fits every schema it is given (checked by Ajv), and is the same for the same seed", () => {
    fc.assert(
      fc.property(anySchema, fc.integer(), (schema, seed) => {
        const value = instanceOf(schema, mulberry32(seed));
        expectFit(schema, value);
        expect(instanceOf(schema, mulberry32(seed))).toEqual(value);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ["pydantic's $defs with recursion", PYDANTIC_TREE, false],
    ["zod's 2020-12 output", ZOD_EVENT, false],
    ["draft-07 definitions, tuple items", DRAFT7_LIST, true],
  ])("fits %s over many seeds", (_name, schema, draft7) => {
    for (let seed = 0; seed < 300; seed++) {
      expectFit(schema, instanceOf(schema, mulberry32(seed)), { draft7 });
    }
  });

  it("ends a schema that requires itself (a $ref to #) at the depth limit", () => {
    const value = instanceOf(ROOT_RECURSION, mulberry32(1));
    let depth = 0;
    for (let node = value as { sub?: unknown } | null; node && typeof node === "object"; node = node.sub as typeof node) depth++;
    expect(depth).toBeGreaterThan(5);
    expect(depth).toBeLessThan(40);
  });

  it("follows the draft-4 boolean form of exclusive bounds", () => {
    for (let seed = 0; seed < 200; seed++) {
      const x = instanceOf({ type: "integer", minimum: 3, exclusiveMinimum: true, maximum: 5, exclusiveMaximum: true }, mulberry32(seed));
      expect(x).toBe(4);
    }
  });

  it("takes a schema of true, {} or false", () => {
    expect(valid(true, instanceOf(true, mulberry32(3)))).toBe(true);
    expect(valid({}, instanceOf({}, mulberry32(3)))).toBe(true);
    expect(instanceOf(false, mulberry32(3))).toBeNull();
  });

  it("always writes the required properties and sometimes the optional ones", () => {
    const schema = { type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, required: ["a"] };
    const seen = new Set<string>();
    for (let seed = 0; seed < 50; seed++) {
      const value = instanceOf(schema, mulberry32(seed)) as Record<string, unknown>;
      expect(value).toHaveProperty("a");
      seen.add(Object.keys(value).sort().join(","));
    }
    expect(seen).toEqual(new Set(["a", "a,b"]));
  });

  it("writes strings as short words", () => {
    const value = instanceOf({ type: "string" }, mulberry32(5)) as string;
    expect(value).toMatch(/^[a-z]+( [a-z]+){0,2}$/);
  });
});

describe("fromPattern", () => {
  it.each(PATTERNS)("writes a string that %s matches", (pattern) => {
    for (let seed = 0; seed < 50; seed++) {
      const value = fromPattern(pattern, mulberry32(seed));
      expect(value).toBeDefined();
      expect(new RegExp(pattern, "u").test(value!)).toBe(true);
    }
  });

  it("gives up on what it cannot follow (lookarounds, back-references)", () => {
    expect(fromPattern("^(?=a)b$", mulberry32(1))).toBeUndefined();
    expect(fromPattern("^(a)\\1$", mulberry32(1))).toBeUndefined();
  });
});

describe("violationOf", () => {
  it("gives a value the schema rejects whenever it gives one", () => {
    fc.assert(
      fc.property(anySchema, fc.integer(), (schema, seed) => {
        const violation = violationOf(schema, mulberry32(seed));
        if (violation === undefined) return;
        expectFit(schema, violation.value, { fits: false, note: violation.how });
      }),
      { numRuns: 1000 },
    );
  });

  it("breaks an object with required properties by a wrong type or a missing property", () => {
    const schema = { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city", "days"] };
    const hows = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const violation = violationOf(schema, mulberry32(seed))!;
      expect(valid(schema, violation.value)).toBe(false);
      hows.add(violation.how.replace(/ (city|days) /, " X "));
    }
    expect(hows).toEqual(new Set(["required property X has the wrong type", "required property X is missing"]));
  });

  it("breaks the shapes zod and pydantic write", () => {
    for (const [schema, draft7] of [[PYDANTIC_TREE, false], [ZOD_EVENT, false], [DRAFT7_LIST, true]] as const) {
      for (let seed = 0; seed < 50; seed++) expect(valid(schema, violationOf(schema, mulberry32(seed))!.value, draft7)).toBe(false);
    }
  });

  it("has nothing for a schema that admits everything", () => {
    expect(violationOf(true, mulberry32(1))).toBeUndefined();
    expect(violationOf({}, mulberry32(1))).toBeUndefined();
    expect(violationOf({ description: "anything" }, mulberry32(1))).toBeUndefined();
  });
});

describe("text cut short", () => {
  it("never parses, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        const cut = unparsableJson(pyJson(value), mulberry32(seed));
        expect(() => JSON.parse(cut)).toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it("cuts inside the span it is given, keeping what comes before", () => {
    const text = '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>';
    const start = text.indexOf("{");
    const end = text.lastIndexOf("}") + 1;
    for (let seed = 0; seed < 30; seed++) {
      const cut = cutShort(text, mulberry32(seed), start, end);
      expect(cut.startsWith('<tool_call>\n{')).toBe(true);
      expect(cut.length).toBeLessThan(end);
      expect(() => JSON.parse(cut.slice(start))).toThrow();
    }
  });
});
