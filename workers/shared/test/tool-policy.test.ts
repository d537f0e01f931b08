// The answer policy both emulators follow when tools or JSON are asked for, and the JSON text
// helpers it and the emulators use.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pyJson, readJsonValue, tokenPieces } from "../json-text";
import {
  type Conversation, type Directives, type Turn, INSTRUCTIONS, NO_DIRECTIVES, decideAnswer, isCorrection, mentionedTools,
  quoteResults, readDirectives, withoutInstructions,
} from "../tool-policy";

const weather = { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
const time = { name: "get_time", parameters: { type: "object", properties: {} } };
const search = { name: "search", parameters: { type: "object", properties: { query: { type: "string" } } } };
const tools = [weather, time, search];

function conv(turns: Turn[], directives: Partial<Directives> = {}, offered = tools): Conversation {
  return { tools: offered, directives: { ...NO_DIRECTIVES, ...directives }, turns };
}
const user = (text: string): Turn => ({ role: "user", text });
const calls = (...names: string[]): Turn => ({ role: "assistant", text: "", calls: names.map((name) => ({ name })) });
const result = (content: string, extra: { callId?: string; name?: string } = {}): Turn => ({ role: "tool", content, ...extra });
const names = (decision: ReturnType<typeof decideAnswer>) => (decision.kind === "calls" ? decision.tools.map((t) => t.name) : decision.kind);

describe("reading instructions", () => {
  it("reads each instruction the gateway writes, and the schema after its lead", () => {
    const schema = { type: "object", properties: { a: { type: "integer" } }, required: ["a"] };
    const text = [
      "Be brief.",
      INSTRUCTIONS.mustCallATool,
      "You must call the function get_weather.",
      INSTRUCTIONS.oneCallAtMost,
      `${INSTRUCTIONS.jsonSchemaLead}\n\`\`\`json\n${JSON.stringify(schema)}\n\`\`\``,
    ].join("\n\n");
    expect(readDirectives([text])).toEqual({ mustCall: true, named: "get_weather", atMostOne: true, json: { kind: "schema", schema } });
    expect(readDirectives([INSTRUCTIONS.jsonObject])).toEqual({ mustCall: false, atMostOne: false, json: { kind: "object" } });
    expect(readDirectives(["Hello there."])).toEqual({ mustCall: false, atMostOne: false });
    expect(withoutInstructions(text).trim()).toBe("Be brief.");
  });

  it("reads a name that contains dots up to the full stop that ends the sentence", () => {
    expect(readDirectives(["You must call the function tools.lookup. Then stop."]).named).toBe("tools.lookup");
  });

  it("tells a correction by a line that starts with its lead", () => {
    expect(isCorrection(`${INSTRUCTIONS.correctionLead} arguments.city: expected string. Answer again, correctly.`)).toBe(true);
    expect(isCorrection(`System text.\n\n${INSTRUCTIONS.correctionLead} bad JSON.`)).toBe(true);
    expect(isCorrection("Was your previous answer valid?")).toBe(false);
  });
});

describe("mentions", () => {
  it("finds names as whole words, ignoring case, with underscores read as spaces, in order of mention", () => {
    expect(mentionedTools("Search for rain, then Get Weather in Paris", tools).map((t) => t.name)).toEqual(["search", "get_weather"]);
    expect(mentionedTools("use GET_TIME", tools).map((t) => t.name)).toEqual(["get_time"]);
    expect(mentionedTools("researching the weather", tools)).toEqual([]);
  });
});

describe("decideAnswer", () => {
  it("answers JSON when asked and no tools are offered, and text otherwise", () => {
    expect(decideAnswer(conv([user("hi")], { json: { kind: "object" } }, []))).toEqual({ kind: "json", directive: { kind: "object" } });
    expect(decideAnswer(conv([user("hi")], {}, []))).toEqual({ kind: "text" });
  });

  it("calls the mentioned tools not yet called, in order of mention", () => {
    expect(names(decideAnswer(conv([user("What does search say, and get_weather for Paris?")])))).toEqual(["search", "get_weather"]);
  });

  it("calls only the first with at most one call, then the next after the first result", () => {
    const request = user("get_weather for Paris and the get_time there");
    expect(names(decideAnswer(conv([request], { atMostOne: true })))).toEqual(["get_weather"]);
    expect(names(decideAnswer(conv([request, calls("get_weather"), result('{"temp": 21}')], { atMostOne: true })))).toEqual(["get_time"]);
  });

  it("answers after the calls, quoting every result of this request and naming its tool", () => {
    const decision = decideAnswer(conv([user("get_weather and get_time please"), calls("get_weather", "get_time"), result('{"temp": 21}'), result("12:00")]));
    expect(decision).toEqual({ kind: "final", results: [{ name: "get_weather", content: '{"temp": 21}' }, { name: "get_time", content: "12:00" }] });
    expect(decision.kind === "final" && quoteResults(decision.results)).toBe('get_weather returned {"temp": 21}. get_time returned 12:00.');
  });

  it("names a result by the call id it answers", () => {
    const turns: Turn[] = [user("get_weather and get_time"), { role: "assistant", text: "", calls: [{ name: "get_weather", id: "a" }, { name: "get_time", id: "b" }] }, result("noon", { callId: "b" }), result("sunny", { callId: "a" })];
    expect(decideAnswer(conv(turns))).toEqual({ kind: "final", results: [{ name: "get_time", content: "noon" }, { name: "get_weather", content: "sunny" }] });
  });

  it("calls the first tool when a call is required and nothing is mentioned, but only once", () => {
    expect(names(decideAnswer(conv([user("Hello")], { mustCall: true })))).toEqual(["get_weather"]);
    expect(decideAnswer(conv([user("Hello"), calls("get_weather"), result("ok")], { mustCall: true })).kind).toBe("final");
    expect(decideAnswer(conv([user("Hello")])).kind).toBe("final");
  });

  it("calls the named tool unless it was called already", () => {
    expect(names(decideAnswer(conv([user("search for cats")], { named: "get_time" })))).toEqual(["get_time"]);
    expect(decideAnswer(conv([user("search for cats"), calls("get_time"), result("9")], { named: "get_time" })).kind).toBe("final");
  });

  it("reads the request past corrections, and does not count a rejected call as made", () => {
    const turns = [
      user("get_weather in Paris"),
      calls("get_weather"),
      user(`${INSTRUCTIONS.correctionLead} arguments.city: expected string. Answer again, correctly.`),
    ];
    expect(names(decideAnswer(conv(turns)))).toEqual(["get_weather"]);
  });

  it("counts only the calls made for the latest request", () => {
    const turns = [user("get_weather"), calls("get_weather"), result("rain"), { role: "assistant", text: "It rains.", calls: [] } as Turn, user("and get_weather again?")];
    expect(names(decideAnswer(conv(turns)))).toEqual(["get_weather"]);
  });

  it("does not read tool names in the instructions as the user's words", () => {
    const request = user(`What time is it?\n\n${INSTRUCTIONS.jsonSchemaLead}\n\`\`\`json\n{"description": "search get_weather"}\n\`\`\``);
    expect(decideAnswer(conv([request], { json: { kind: "schema", schema: {} } })).kind).toBe("json");
  });

  it("answers JSON rather than prose once the calls are made, when JSON is asked for", () => {
    expect(decideAnswer(conv([user("get_time"), calls("get_time"), result("9")], { json: { kind: "object" } })).kind).toBe("json");
  });

  it("makes no call when calls are ruled out (tool_choice none)", () => {
    expect(decideAnswer(conv([user("get_weather in Paris")], { noCalls: true }))).toEqual({ kind: "final", results: [] });
  });
});

describe("JSON text", () => {
  it("writes JSON as Python's json.dumps does", () => {
    expect(pyJson({ name: "get_weather", arguments: { city: "Paris", days: [1, 2], ok: true, none: null } })).toBe(
      '{"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2], "ok": true, "none": null}}',
    );
  });

  it("reads one value out of longer text", () => {
    expect(readJsonValue('  {"a": "}]"} trailing', 0)).toEqual({ value: { a: "}]" }, end: 13 });
    expect(readJsonValue('x [1, {"b": [2]}]]', 1)).toEqual({ value: [1, { b: [2] }], end: 17 });
    expect(readJsonValue('"str" tail')).toEqual({ value: "str", end: 5 });
    expect(readJsonValue("{unclosed")).toBeUndefined();
    expect(readJsonValue("[func(a=1)]")).toBeUndefined();
  });

  it("splits any text into pieces that join back to it", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => {
      expect(tokenPieces(text).join("")).toBe(text);
    }));
    expect(tokenPieces('{"city": "Paris"}')).toEqual(["{", '"', "city", '"', ":", ' "', "Paris", '"', "}"]);
    expect(tokenPieces("internationalisation")).toEqual(["intern", "ationa", "lisati", "on"]);
  });
});
