// Properties of reading answers back, with generated calls and generated text: calls written in a
// family's format — by formatCalls, and inside a rendered prompt — parse back to the same names
// and arguments; parse never throws, whatever the text; and it takes time linear in the text's
// length, on the inputs a backtracking or rescanning reader would be quadratic on. An answer is
// text a client can steer (it asks the model to repeat something), so none of this may blow up.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gemma, mistral, qwen, type ModelFamily, type ParsedOutput, type TemplateMessage, type ToolFunction } from "../src/families";

const FAMILIES: ModelFamily[] = [qwen, mistral, gemma];

/** Names as OpenAI allows them (letters, digits, `_` and `-`), starting as Gemma's reader expects. */
const functionName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,24}$/);
/** Keyword names Python can write: Gemma's calls put them bare before `=`. */
const argumentName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
const argumentValue = fc.jsonValue({ maxDepth: 3, stringUnit: "binary" });
const callArguments = fc.dictionary(argumentName, argumentValue, { maxKeys: 5 });

const toolset = fc.uniqueArray(functionName, { minLength: 1, maxLength: 4 }).chain((names) =>
  fc.record({
    tools: fc.constant(names.map((name): ToolFunction => ({ name }))),
    calls: fc.array(fc.record({ name: fc.constantFrom(...names), arguments: callArguments }), { minLength: 1, maxLength: 4 }),
  }),
);

/** What JSON carries of a value (no -0, no undefined): what any format can give back. */
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

function expectCalls(result: ParsedOutput, calls: { name: string; arguments: unknown }[]) {
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
  if (!result.ok) return;
  expect(result.toolCalls.map((c) => ({ name: c.name, arguments: asJson(c.arguments) }))).toEqual(calls.map((c) => ({ name: c.name, arguments: asJson(c.arguments) })));
}

/** The assistant's turn inside a rendered prompt: where the family writes past calls. */
const PAST_CALLS: Record<ModelFamily["id"], (prompt: string) => string> = {
  qwen: (p) => p.slice(p.indexOf("<|im_start|>assistant\n<tool_call>") + "<|im_start|>assistant\n".length, p.lastIndexOf("<|im_end|>")),
  mistral: (p) => p.slice(p.indexOf("[TOOL_CALLS]"), p.lastIndexOf("</s>")),
  gemma: (p) => p.slice(p.indexOf("<start_of_turn>model\n") + "<start_of_turn>model\n".length, p.lastIndexOf("<end_of_turn>")),
};

describe.each(FAMILIES)("$id", (family) => {
  it("reads back the calls formatCalls writes", () => {
    fc.assert(
      fc.property(toolset, ({ tools, calls }) => {
        expectCalls(family.parse(family.formatCalls(calls), tools), calls);
      }),
      { numRuns: 300 },
    );
  });

  it("reads back the calls its template renders in an assistant turn", () => {
    fc.assert(
      fc.property(toolset, fc.string(), ({ tools, calls }, question) => {
        const messages: TemplateMessage[] = [
          { role: "user", content: question },
          { role: "assistant", content: null, tool_calls: calls.map((c, i) => ({ id: `call_${i}`, name: c.name, arguments: JSON.stringify(c.arguments) })) },
        ];
        const prompt = family.render({ messages, tools });
        expectCalls(family.parse(PAST_CALLS[family.id](prompt), tools), calls);
      }),
      { numRuns: 200 },
    );
  });

  it("never throws, and answers in the documented shape, on any text", () => {
    const tools: ToolFunction[] = [{ name: "f" }, { name: "get_weather" }];
    // Pieces of every family's syntax, so that generated text often starts a call and breaks it.
    const piece = fc.oneof(
      fc.constantFrom("<tool_call>", "</tool_call>", "[TOOL_CALLS]", "</s>", "```tool_code", "```", "[f(", "[get_weather(", "f(", ")", "]", "[", "{", "}", "(", ",", "=", ":"),
      fc.constantFrom('"', "'", "'''", "\\", "\\x", "\\u12", "\n", " ", "True", "None", "null", "1e999", "-", "0x", ".5", '{"name": "f", "arguments": {}}', "a=1"),
      fc.string({ unit: "binary", maxLength: 20 }),
    );
    const answer = fc.oneof(fc.string({ unit: "binary", maxLength: 10_000 }), fc.array(piece, { maxLength: 400 }).map((p) => p.join("")));
    fc.assert(
      fc.property(answer, (text) => {
        const result = family.parse(text, tools);
        if (result.ok) {
          expect(result.content === null || typeof result.content === "string").toBe(true);
          for (const call of result.toolCalls) expect(tools.map((t) => t.name)).toContain(call.name);
        } else {
          expect(result.raw).toBe(text);
          expect(result.error.length).toBeGreaterThan(0);
          expect(result.error.length).toBeLessThan(400);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("parse takes time linear in the answer's length", () => {
  const KiB = 1024;
  const SIZE = 256 * KiB;

  /** Repeats `unit` to about n characters between `head` and `tail`. */
  const run = (head: string, unit: string, tail: string) => (n: number) => head + unit.repeat(Math.ceil(n / unit.length)) + tail;

  const SHAPES: [string, (n: number) => string][] = [
    ["unclosed <tool_call> blocks", run("", "<tool_call>", "")],
    ["closed empty calls", run("", '<tool_call>{"name": "f"}</tool_call>', "")],
    ["a <tool_call> with an endless string", run('<tool_call>{"name": "', "\\\"", "")],
    ["[TOOL_CALLS] then open brackets", run("[TOOL_CALLS] ", "[", "")],
    ["[TOOL_CALLS] then an endless string", run('[TOOL_CALLS] ["', "\\\\", "")],
    ["[TOOL_CALLS] then many calls", run("[TOOL_CALLS] [", '{"name": "f", "arguments": {"a": [1, "]"]}}, ', "")],
    ["nested unclosed calls", run("[f(", "f(", "")],
    ["an unclosed list of calls", run("[", "f(a=1, b='x'), ", "")],
    ["a call with endless arguments", run("[f(", "a=[1, 2.5, None], ", "")],
    ["open brackets in an argument", run("[f(a=", "[", "")],
    ["an endless string argument", run("[f(a='", "\\'", "")],
    ["an endless triple-quoted string", run('[f(a="""', '"" ', "")],
    ["a long name", run("[", "a", "(")],
    ["spaces before a bracket", run("", " ", "[f(")],
    ["a tool_code fence of calls", run("```tool_code\n", "f()\n", "")],
    ["a tool_code fence of open brackets", run("```tool_code\n[f(a=", "(", "\n```")],
    ["prose with brackets", run("", "See [1] (f) [a](b) ", "")],
  ];

  function timeOf(work: () => void, reps: number): number {
    const started = performance.now();
    for (let i = 0; i < reps; i++) work();
    return performance.now() - started;
  }

  it.each(SHAPES)("%s", (_shape, make) => {
    for (const family of FAMILIES) {
      const tools: ToolFunction[] = [{ name: "f" }];
      const half = make(SIZE / 2);
      const full = make(SIZE);
      // Repeat until a run is long enough for the clock, then compare the best of a few runs.
      let reps = 1;
      while (reps < 512 && timeOf(() => family.parse(half, tools), reps) < 20) reps *= 2;
      let best = { half: Infinity, full: Infinity };
      for (let i = 0; i < 4; i++) {
        best = { half: Math.min(best.half, timeOf(() => family.parse(half, tools), reps)), full: Math.min(best.full, timeOf(() => family.parse(full, tools), reps)) };
      }
      const label = `${family.id}: ${reps}× ${SIZE / 2 / KiB} KiB ${best.half.toFixed(0)} ms, ${reps}× ${SIZE / KiB} KiB ${best.full.toFixed(0)} ms`;
      // Doubling the text quadruples quadratic work; linear work on a busy machine stays well under,
      // or is fast outright: quadratic work on 256 KiB takes seconds, not a tenth of one.
      expect(best.full / Math.max(best.half, 1) < 3.2 || best.full / reps < 100, label).toBe(true);
      expect(best.full / reps, label).toBeLessThan(500);
    }
  });
});
