import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { answerTurn, checkClientSchema, interpret, TurnFailed, unfence, type AgentTurn, type BackendReply } from "../src/structured";
import type { ParsedOutput } from "../src/families/types";

const weather = {
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } }, required: ["city"], additionalProperties: false },
};
const time = { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] } };

const turnOf = (over: Partial<AgentTurn> = {}): AgentTurn => ({
  messages: [{ role: "user", content: "weather in Paris?" }],
  tools: [weather, time],
  toolChoice: "auto",
  parallelToolCalls: true,
  responseFormat: { type: "text" },
  ...over,
});
const calls = (...c: { name: string; arguments: unknown }[]): ParsedOutput => ({ ok: true, content: null, toolCalls: c });
const text = (content: string): ParsedOutput => ({ ok: true, content, toolCalls: [] });

describe("interpret: tool calls", () => {
  it("accepts calls whose arguments fit, with OpenAI ids and JSON arguments", () => {
    const v = interpret(calls({ name: "get_weather", arguments: { city: "Paris", days: 2 } }, { name: "get_time", arguments: { zone: "CET" } }), turnOf(), "stop", "call_x_");
    expect(v).toEqual({
      ok: true,
      answer: {
        content: null,
        finishReason: "tool_calls",
        toolCalls: [
          { id: "call_x_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris","days":2}' } },
          { id: "call_x_1", type: "function", function: { name: "get_time", arguments: '{"zone":"CET"}' } },
        ],
      },
    });
  });

  it.each([
    ["a missing required argument", calls({ name: "get_weather", arguments: {} }), /get_weather do not match.*city/],
    ["a wrongly typed argument", calls({ name: "get_weather", arguments: { city: 3 } }), /at \/city/],
    ["an argument the schema forbids", calls({ name: "get_weather", arguments: { city: "x", extra: 1 } }), /get_weather do not match/],
    ["a function that was not offered", calls({ name: "launch", arguments: {} }), /"launch" is not one of the available functions \(get_weather, get_time\)/],
    ["arguments that are not an object", calls({ name: "get_time", arguments: [1] }), /must be a JSON object/],
    ["a call that did not parse", { ok: false, error: "unclosed <tool_call>", raw: "<tool_call>{" } as ParsedOutput, /unclosed <tool_call>/],
  ])("refuses %s, saying why", (_what, parsed, why) => {
    const v = interpret(parsed, turnOf(), "stop", "c");
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.kind).toBe("tool_call_invalid");
      expect(v.error).toMatch(why);
    }
  });

  it("holds the answer to tool_choice and parallel_tool_calls", () => {
    const two = calls({ name: "get_weather", arguments: { city: "a" } }, { name: "get_time", arguments: { zone: "b" } });
    expect(interpret(two, turnOf({ parallelToolCalls: false }), "stop", "c")).toMatchObject({ ok: false, error: expect.stringMatching(/only one function/) });
    expect(interpret(text("It is sunny."), turnOf({ toolChoice: "required" }), "stop", "c")).toMatchObject({ ok: false, error: expect.stringMatching(/was required/) });
    expect(interpret(calls({ name: "get_weather", arguments: { city: "a" } }), turnOf({ toolChoice: { name: "get_time" } }), "stop", "c")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/"get_time" must be called/),
    });
    expect(interpret(calls({ name: "get_weather", arguments: { city: "a" } }), turnOf({ toolChoice: "none" }), "stop", "c")).toMatchObject({ ok: false });
    expect(interpret(text("Sunny."), turnOf(), "stop", "c")).toEqual({ ok: true, answer: { content: "Sunny.", toolCalls: [], finishReason: "stop" } });
  });
});

describe("interpret: structured output", () => {
  const person = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"] };
  const schemaTurn = turnOf({ tools: [], responseFormat: { type: "json_schema", name: "person", schema: person, strict: true } });

  it("accepts JSON that fits, fenced or not, and returns it unfenced", () => {
    expect(interpret(text('```json\n{"name":"Ada","age":36}\n```'), schemaTurn, "stop", "c")).toEqual({ ok: true, answer: { content: '{"name":"Ada","age":36}', toolCalls: [], finishReason: "stop" } });
    expect(interpret(text('{"a":1}'), turnOf({ tools: [], responseFormat: { type: "json_object" } }), "stop", "c")).toMatchObject({ ok: true });
  });

  it("refuses what is not JSON, not an object, or not the schema", () => {
    expect(interpret(text("Ada is 36."), schemaTurn, "stop", "c")).toMatchObject({ ok: false, kind: "structured_output_invalid", error: expect.stringMatching(/not valid JSON/) });
    expect(interpret(text("[1]"), turnOf({ tools: [], responseFormat: { type: "json_object" } }), "stop", "c")).toMatchObject({ ok: false, error: "the answer must be a JSON object" });
    expect(interpret(text('{"name":"Ada"}'), schemaTurn, "stop", "c")).toMatchObject({ ok: false, error: expect.stringMatching(/schema "person".*age/) });
    expect(interpret(text('{"name":"Ad'), schemaTurn, "length", "c")).toMatchObject({ ok: false, truncated: true, error: expect.stringMatching(/cut off at max_tokens/) });
  });

  it("unfence leaves unfenced and half-fenced text alone", () => {
    expect(unfence("  {}  ")).toBe("{}");
    expect(unfence("```\n[1]\n```")).toBe("[1]");
    expect(unfence("```json")).toBe("```json");
  });
});

describe("answerTurn: one retry, with the reason shown to the model", () => {
  const reply = (output: ParsedOutput, raw: string, costUsd = 0.01): BackendReply => ({
    output,
    raw,
    finishReason: "stop",
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    costUsd,
  });

  it("asks again after an invalid call, and books both inferences", async () => {
    const seen: AgentTurn[] = [];
    const replies = [reply(calls({ name: "get_weather", arguments: { city: 1 } }), "bad"), reply(calls({ name: "get_weather", arguments: { city: "Paris" } }), "good")];
    const r = await answerTurn(turnOf(), { ask: async (t) => (seen.push(t), replies.shift()!) }, "c");
    expect(r.retried).toBe(true);
    expect(r.answer.toolCalls[0]!.function.arguments).toBe('{"city":"Paris"}');
    expect(r.usage).toEqual({ prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 });
    expect(r.costUsd).toBeCloseTo(0.02, 10);
    const retry = seen[1]!.messages.slice(-2);
    expect(retry[0]).toEqual({ role: "assistant", content: "bad" });
    expect(retry[1]).toMatchObject({ role: "user", content: expect.stringMatching(/^Your previous answer was not valid: .*at \/city/) });
  });

  it("fails clearly when the retry is invalid too, with what both cost", async () => {
    const bad = () => reply(text("no call"), "no call");
    const err = await answerTurn(turnOf({ toolChoice: "required" }), { ask: async () => bad() }, "c").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnFailed);
    expect((err as TurnFailed).reason).toMatch(/also after a retry: a call to one of/);
    expect((err as TurnFailed).costUsd).toBeCloseTo(0.02, 10);
  });

  it("does not retry an answer cut off at max_tokens", async () => {
    let asked = 0;
    const cut: BackendReply = { ...reply(text('{"na'), '{"na'), finishReason: "length" };
    const err = await answerTurn(turnOf({ tools: [], responseFormat: { type: "json_object" } }), { ask: async () => (asked++, cut) }, "c").catch((e: unknown) => e);
    expect(asked).toBe(1);
    expect((err as TurnFailed).truncated).toBe(true);
  });
});

describe("client schemas", () => {
  it("refuses regular expressions, foreign references and absurd depth, naming where", () => {
    expect(checkClientSchema({ type: "object", properties: { id: { type: "string", pattern: "^(a+)+$" } } }, "schema")).toEqual({
      ok: false,
      path: "schema.properties.id.pattern",
      message: expect.stringMatching(/regular expressions/),
    });
    expect(checkClientSchema({ patternProperties: { "^x": {} } }, "s")).toMatchObject({ ok: false, path: "s.patternProperties" });
    expect(checkClientSchema({ $ref: "https://example.com/s.json" }, "s")).toMatchObject({ ok: false, path: "s.$ref" });
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 40; i++) deep = { type: "array", items: deep };
    expect(checkClientSchema(deep, "s")).toMatchObject({ ok: false, message: expect.stringMatching(/nested/) });
    expect(checkClientSchema("object", "s")).toMatchObject({ ok: false });
  });

  it("accepts properties named like keywords, and data that looks like a pattern", () => {
    expect(checkClientSchema({ type: "object", properties: { pattern: { type: "string" } }, $defs: { pattern: { enum: ["pattern"] } } }, "s")).toEqual({ ok: true });
    expect(checkClientSchema({ $ref: "#/$defs/a", $defs: { a: { type: "string" } } }, "s")).toEqual({ ok: true });
  });

  it("never throws, whatever it is given", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => void checkClientSchema(v, "s")), { numRuns: 300 });
  });
});
