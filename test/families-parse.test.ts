// Reading a model's answer back: plain text stays text, each family's call format gives calls with
// their arguments parsed, and an answer that plainly tries to call but does not parse is a short
// error that names what is wrong (the model sees it on a retry, the client sees it otherwise).
import { describe, expect, it } from "vitest";
import { correction, gemma, mistral, qwen, type ModelFamily, type ParsedOutput, type ToolFunction } from "../src/families";

const TOOLS: ToolFunction[] = [{ name: "get_weather" }, { name: "get_time" }];

function calls(result: ParsedOutput) {
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
  return result.ok ? result.toolCalls : [];
}

function errorOf(result: ParsedOutput): string {
  expect(result, JSON.stringify(result)).toMatchObject({ ok: false });
  return result.ok ? "" : result.error;
}

describe.each([qwen, mistral, gemma])("$id: plain text", (family: ModelFamily) => {
  it.each([
    "The weather in Paris is mild.",
    "",
    "  \n",
    "See [1] (a footnote), [a](b), [x] and {\"name\": \"get_weather\"}.",
    "Use get_weather(city) to ask; results come in <tool_response>.",
  ])("%j is content, no calls", (text) => {
    expect(family.parse(text, TOOLS)).toEqual({ ok: true, content: text, toolCalls: [] });
  });

  it("keeps the answer as raw text when it fails, and the error reads inside a correction", () => {
    const bad = family.formatCalls([{ name: "launch_rockets", arguments: {} }]);
    const result = family.parse(bad, TOOLS);
    expect(result).toEqual({ ok: false, error: expect.stringContaining('"launch_rockets"'), raw: bad });
    const error = errorOf(result);
    expect(error).not.toMatch(/[.\n]$/);
    expect(correction(error)).toContain("(get_weather, get_time)");
  });

  it("names the lack of functions when none are offered", () => {
    expect(errorOf(family.parse(family.formatCalls([{ name: "get_weather", arguments: {} }]), []))).toContain("no functions are available");
  });
});

describe("qwen", () => {
  it("reads each <tool_call> block's JSON; text outside the blocks is content", () => {
    const answer = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call><|im_end|>';
    expect(qwen.parse(answer, TOOLS)).toEqual({
      ok: true,
      content: "Let me check.",
      toolCalls: [
        { name: "get_weather", arguments: { city: "Paris", days: 3 } },
        { name: "get_time", arguments: {} },
      ],
    });
  });

  it("has no content when only whitespace surrounds the calls; missing arguments are none; arguments as JSON text are read", () => {
    expect(qwen.parse('\n<tool_call>{"name": "get_time"}</tool_call>\n', TOOLS)).toEqual({ ok: true, content: null, toolCalls: [{ name: "get_time", arguments: {} }] });
    expect(calls(qwen.parse('<tool_call>{"name": "get_time", "arguments": "{\\"zone\\": \\"UTC\\"}"}</tool_call>', TOOLS))).toEqual([{ name: "get_time", arguments: { zone: "UTC" } }]);
  });

  it.each([
    ['I will call it. <tool_call>{"name": "get_weather", "arguments": {', "not closed with </tool_call>"],
    ["<tool_call>get_weather(city='Paris')</tool_call>", "is not valid JSON"],
    ['<tool_call>{"arguments": {}}</tool_call>', 'no "name" string'],
    ['<tool_call>[{"name": "get_time"}]</tool_call>', "not a JSON object"],
    ['<tool_call>{"name": "get_time"}</tool_call><tool_call>{"name": "get_time"', "not closed"],
  ])("%j fails: %s", (answer, error) => {
    expect(errorOf(qwen.parse(answer, TOOLS))).toContain(error);
  });
});

describe("mistral", () => {
  it("reads the JSON list after [TOOL_CALLS], with or without ids and the end-of-sequence token", () => {
    const answer = '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}, {"name": "get_time", "arguments": {"zone": "UTC"}}]</s>';
    expect(mistral.parse(answer, TOOLS)).toEqual({
      ok: true,
      content: null,
      toolCalls: [
        { name: "get_weather", arguments: { city: "Paris" } },
        { name: "get_time", arguments: { zone: "UTC" } },
      ],
    });
    expect(calls(mistral.parse('[TOOL_CALLS][{"name":"get_time","arguments":{}}]', TOOLS))).toEqual([{ name: "get_time", arguments: {} }]);
  });

  it("takes a single call object too, and keeps text around the list as content", () => {
    expect(mistral.parse('Checking. [TOOL_CALLS] {"name": "get_time", "arguments": {}} Done.', TOOLS)).toEqual({
      ok: true,
      content: "Checking.\nDone.",
      toolCalls: [{ name: "get_time", arguments: {} }],
    });
  });

  it("brackets inside strings do not end the list", () => {
    expect(calls(mistral.parse('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "]}\\"[{"}}]', TOOLS))).toEqual([{ name: "get_weather", arguments: { city: ']}"[{' } }]);
  });

  it.each([
    ["[TOOL_CALLS]", "complete JSON list"],
    ['[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}', "complete JSON list"],
    ['[TOOL_CALLS] [{"name": "get_weather", "arguments": {city: "Paris"}}]', "not valid JSON"],
    ["[TOOL_CALLS] get_weather(city='Paris')", "complete JSON list"],
    ["[TOOL_CALLS] []", "holds no calls"],
    ['[TOOL_CALLS] [{"function": "get_time"}]', 'call 1 after [TOOL_CALLS] has no "name" string'],
  ])("%j fails: %s", (answer, error) => {
    expect(errorOf(mistral.parse(answer, TOOLS))).toContain(error);
  });
});

describe("gemma", () => {
  it("reads a Python list of calls with keyword arguments", () => {
    expect(gemma.parse('[get_weather(city="Paris", days=3), get_time()]', TOOLS)).toEqual({
      ok: true,
      content: null,
      toolCalls: [
        { name: "get_weather", arguments: { city: "Paris", days: 3 } },
        { name: "get_time", arguments: {} },
      ],
    });
  });

  it("reads Python literals and the JSON values its template shows", () => {
    const answer = String.raw`[get_weather(a='it\'s', b="say \"hi\"\n\t\u00e9\x41\101", c=True, d=False, e=None, f=true, g=null, h=-1.5e3, i=0x1F, j=1_000, k=(1, 2), l=(3,), m=[1, [2, {}]], n={'x': (None,), 1: 'one', True: 2}, o=.5, p='''a'b''', q=r'\d', r=(7))]`;
    expect(calls(gemma.parse(answer, TOOLS))).toEqual([
      {
        name: "get_weather",
        arguments: {
          a: "it's",
          b: 'say "hi"\n\téAA',
          c: true,
          d: false,
          e: null,
          f: true,
          g: null,
          h: -1500,
          i: 31,
          j: 1000,
          k: [1, 2],
          l: [3],
          m: [1, [2, {}]],
          n: { x: [null], "1": "one", true: 2 },
          o: 0.5,
          p: "a'b",
          q: "\\d",
          r: 7,
        },
      },
    ]);
  });

  it("reads positional arguments as a list, and a trailing comma anywhere", () => {
    expect(calls(gemma.parse("[get_weather('Paris', 3,),]", TOOLS))).toEqual([{ name: "get_weather", arguments: ["Paris", 3] }]);
  });

  it("reads Google's ```tool_code fence, with a list or bare calls, and text around it as content", () => {
    expect(gemma.parse('```tool_code\nget_weather(city="Paris")\nget_time()\n```', TOOLS)).toEqual({
      ok: true,
      content: null,
      toolCalls: [
        { name: "get_weather", arguments: { city: "Paris" } },
        { name: "get_time", arguments: {} },
      ],
    });
    expect(gemma.parse('I will look it up.\n```tool_code\n[get_time(zone="UTC")]\n```\n', TOOLS)).toEqual({
      ok: true,
      content: "I will look it up.",
      toolCalls: [{ name: "get_time", arguments: { zone: "UTC" } }],
    });
  });

  it("keeps text after the list as content, without the end-of-turn marker", () => {
    expect(gemma.parse("  [get_time()]\nThat is all.<end_of_turn>", TOOLS)).toEqual({ ok: true, content: "That is all.", toolCalls: [{ name: "get_time", arguments: {} }] });
  });

  it("treats prose that does not open with `[name(` as text", () => {
    for (const text of ["[see (below)] for details", "Call [get_weather(city)] later.", "[1] get_weather(city='x')", "[]"]) {
      expect(gemma.parse(text, TOOLS)).toEqual({ ok: true, content: text, toolCalls: [] });
    }
  });

  it.each([
    ["[get_weather(city='Paris'", 'the call to get_weather is not closed with ")"'],
    ["[get_weather(city='Paris')", 'the list of calls is not closed with "]"'],
    ["[get_weather(city='Paris)]", "a string is not closed"],
    ["[get_weather(city=paris)]", "paris is not a literal value"],
    ["[get_weather(city='Paris' days=3)]", 'expected "," or ")" in the call to get_weather'],
    ["[get_weather(city='Paris', 3)]", "a positional argument follows a keyword argument"],
    ["[get_weather(city=1e999)]", "is not a number"],
    ["[get_weather(city='\\x4')]", "malformed \\x escape"],
    ["[get_weather(city=" + "[".repeat(100) + "]".repeat(100) + ")]", "nested too deeply"],
    ["```tool_code\nget_weather(city='Paris')", "not closed with ```"],
    ["```tool_code\n[get_weather(city='Paris')] and more\n```", "text after the calls"],
    ["```tool_code\nget_weather(city='Paris') and more\n```", 'expected "(" after the function name and'],
    ["```tool_code\n\n```", "no function call"],
  ])("%j fails: %s", (answer, error) => {
    expect(errorOf(gemma.parse(answer, TOOLS))).toContain(error);
  });
});
