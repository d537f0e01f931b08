// Property: whatever schema a tool has and whatever arguments a model writes, an agent turn
// gives tool calls whose arguments validate, or a clear error — never a call that does not fit.
// Ajv, an independent validator, is the judge: the gateway's validator must agree with it both
// ways. Checked through each family's parser on the pure path, then through the whole system.
import Ajv2020 from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { MODEL_FAMILIES } from "../../src/families";
import { interpret, type AgentTurn } from "../../src/structured";

const ajv = new Ajv2020({ strict: false, allErrors: false });
const fits = (schema: object, value: unknown) => ajv.validate(schema, value);

const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
const leaf = fc.oneof(
  fc.constant({ type: "string" }),
  fc.record({ type: fc.constant("string"), minLength: fc.nat(3), maxLength: fc.integer({ min: 3, max: 12 }) }),
  fc.record({ type: fc.constant("integer"), minimum: fc.integer({ min: -50, max: 0 }), maximum: fc.integer({ min: 1, max: 50 }) }),
  fc.constant({ type: "number" }),
  fc.constant({ type: "boolean" }),
  fc.constant({ type: ["string", "null"] }),
  fc.record({ enum: fc.uniqueArray(fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -9, max: 9 })), { minLength: 1, maxLength: 4 }) }),
);
const { node: schemaNode } = fc.letrec<{ node: object; object: object; array: object; anyOf: object }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("object"), tie("array"), tie("anyOf")),
  object: fc.dictionary(name, tie("node"), { maxKeys: 4 }).chain((properties) =>
    fc.record({
      type: fc.constant("object"),
      properties: fc.constant(properties),
      required: fc.subarray(Object.keys(properties)),
      additionalProperties: fc.boolean(),
    }),
  ),
  array: fc.record({ type: fc.constant("array"), items: tie("node"), maxItems: fc.integer({ min: 0, max: 4 }) }),
  anyOf: fc.record({ anyOf: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }),
}));
/** A tool's parameters: always an object schema at the top. */
const parameters = fc.dictionary(name, schemaNode, { maxKeys: 5 }).chain((properties) =>
  fc.record({ type: fc.constant("object"), properties: fc.constant(properties), required: fc.subarray(Object.keys(properties)), additionalProperties: fc.boolean() }),
);
/** Arguments a model might write: keys mostly from the schema, values anything JSON. */
const argumentsFor = (params: { properties: Record<string, unknown> }) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...Object.keys(params.properties), "extra"), name), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });

/** A JSON value as a Python literal, as Gemma writes call arguments. */
function python(v: unknown): string {
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number" || typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(python).join(", ")}]`;
  return `{${Object.entries(v as object).map(([k, x]) => `${JSON.stringify(k)}: ${python(x)}`).join(", ")}}`;
}

/** What each family's model writes for one call (the published output formats). */
const WRITTEN: Record<string, (fn: string, args: Record<string, unknown>) => string> = {
  qwen: (fn, args) => `<tool_call>\n${JSON.stringify({ name: fn, arguments: args })}\n</tool_call>`,
  mistral: (fn, args) => `[TOOL_CALLS] ${JSON.stringify([{ name: fn, arguments: args, id: "a1b2c3d4e" }])}`,
  gemma: (fn, args) => `[${fn}(${Object.entries(args).map(([k, v]) => `${k}=${python(v)}`).join(", ")})]`,
};

describe("tool arguments against any schema", () => {
  for (const [familyId, write] of Object.entries(WRITTEN)) {
    it(`${familyId}: valid calls come back as written, invalid ones as a clear error — agreeing with Ajv`, () => {
      const family = MODEL_FAMILIES[familyId as keyof typeof MODEL_FAMILIES];
      let accepted = 0;
      fc.assert(
        fc.property(
          parameters.chain((p) => fc.tuple(fc.constant(p), argumentsFor(p))),
          ([params, args]) => {
            const tools = [{ name: "act", parameters: params }];
            const turn: AgentTurn = { messages: [{ role: "user", content: "act" }], tools, toolChoice: "required", parallelToolCalls: true, responseFormat: { type: "text" } };
            const parsed = family.parse(write("act", args), tools);
            const verdict = interpret(parsed, turn, "stop", "call_p_");
            const valid = fits(params, args);
            if (verdict.ok) {
              accepted++;
              expect(valid).toBe(true);
              const [call] = verdict.answer.toolCalls;
              expect(call!.function.name).toBe("act");
              expect(JSON.parse(call!.function.arguments)).toEqual(JSON.parse(JSON.stringify(args)));
            } else {
              expect(valid, `${JSON.stringify(params)} ${JSON.stringify(args)}: ${verdict.error}`).toBe(false);
              expect(verdict.error).toMatch(/act/);
            }
          },
        ),
        { numRuns: 400, seed: 18 },
      );
      // The property is only worth something if both sides of it were seen.
      expect(accepted).toBeGreaterThan(20);
    });
  }
});

describe("through the whole system", () => {
  const { gateway, keys } = inject("system");
  it("any tool schema gives a call that Ajv accepts, or a clear error", async () => {
    const samples = fc.sample(parameters, { numRuns: 12, seed: 7 });
    for (const params of samples) {
      const res = await fetch(`${gateway}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.dev}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "qwen-14b",
          max_tokens: 400,
          messages: [{ role: "user", content: "Call act." }],
          tools: [{ type: "function", function: { name: "act", parameters: params } }],
          tool_choice: "required",
        }),
      });
      const body = (await res.json()) as { choices?: { message: { tool_calls: { function: { name: string; arguments: string } }[] } }[]; error?: { code: string; message: string } };
      if (res.status === 200) {
        const call = body.choices![0]!.message.tool_calls[0]!;
        expect(call.function.name).toBe("act");
        expect(fits(params, JSON.parse(call.function.arguments)), JSON.stringify({ params, args: call.function.arguments })).toBe(true);
      } else {
        expect([res.status, body.error?.code]).toEqual([502, "tool_call_invalid"]);
        expect(body.error!.message).toMatch(/act/);
      }
    }
  });
});
