// Tool calls and structured output through the prompt-only inference endpoint: the emulator reads
// prompts rendered with each family's published template, answers in the family's own call format
// or with JSON fitting the schema, quotes tool results in its final answer, and gives malformed
// answers on demand (the malformed_output fault).
import { Validator } from "@cfworker/json-schema";
import { beforeEach, describe, expect, it } from "vitest";
import { INSTRUCTIONS } from "../../shared/tool-policy";
import { planAnswer } from "../src/answer";
import { gemma, mistral, qwen } from "../src/families";
import { readCallList } from "../src/families/python-calls";
import { adminView, allocateOk, call, issueToken, resetCluster, setFaults, streamInference } from "./harness";
import { type Fn, type Message, PING, TIME, WEATHER, gemmaPrompt, mistralPrompt, qwenPrompt } from "./templates";

const fits = (schema: unknown, value: unknown) => new Validator(schema as object, "2020-12").validate(value).valid;

const request = (content: string): Message[] => [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content }];
const schemaInstruction = (schema: unknown) => `${INSTRUCTIONS.jsonSchemaLead}\n\`\`\`json\n${JSON.stringify(schema)}\n\`\`\``;

/** Calls read back from a family's raw output, by the published format (independently of the emulator's writer). */
function qwenCalls(text: string): { name: string; arguments: Record<string, unknown> }[] {
  expect(text).toMatch(/^(<tool_call>\n\{.*\}\n<\/tool_call>)(\n<tool_call>\n\{.*\}\n<\/tool_call>)*$/s);
  return [...text.matchAll(/<tool_call>\n(.*?)\n<\/tool_call>/gs)].map((m) => JSON.parse(m[1]!));
}
function mistralCalls(text: string): { name: string; arguments: Record<string, unknown>; id: string }[] {
  expect(text.startsWith("[TOOL_CALLS] [")).toBe(true);
  return JSON.parse(text.slice("[TOOL_CALLS] ".length));
}

const planned = (model: string, prompt: string, maxTokens = 512) => planAnswer({ seed: "42", model, prompt, maxTokens, temperature: 0.7 });

describe("reading prompts rendered with the published templates", () => {
  const history: Message[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What's the weather in Paris, and get_time there?" },
    { role: "assistant", tool_calls: [{ id: "abc123XYZ", name: "get_weather", arguments: { city: "Paris", days: 1 } }, { id: "def456UVW", name: "get_time", arguments: { timezone: "Europe/Paris" } }] },
    { role: "tool", content: '{"temp": 21}', tool_call_id: "abc123XYZ" },
    { role: "tool", content: "12:00", tool_call_id: "def456UVW" },
  ];

  it.each([
    ["Qwen2.5", qwen, qwenPrompt(history, [WEATHER, TIME], [INSTRUCTIONS.oneCallAtMost])],
    ["Mistral v0.3", mistral, mistralPrompt([...history, { role: "user", content: "Thanks." }], [WEATHER, TIME], [INSTRUCTIONS.oneCallAtMost])],
    ["Gemma (Google's prompt)", gemma, gemmaPrompt(history, [WEATHER, TIME], [INSTRUCTIONS.oneCallAtMost])],
    ["Gemma (vLLM's template)", gemma, gemmaPrompt(history, [WEATHER, TIME], [INSTRUCTIONS.oneCallAtMost], "vllm")],
  ] as const)("%s: the tools, the calls made, the results and the instructions", (_name, family, prompt) => {
    const conversation = family.read(prompt)!;
    expect(conversation.tools.map((t) => t.name)).toEqual(["get_weather", "get_time"]);
    expect(conversation.tools[0]!.parameters).toEqual(WEATHER.parameters);
    expect(conversation.directives).toMatchObject({ atMostOne: true, mustCall: false });
    const calls = conversation.turns.flatMap((t) => (t.role === "assistant" ? t.calls.map((c) => c.name) : []));
    expect(calls).toEqual(["get_weather", "get_time"]);
    expect(conversation.turns.filter((t) => t.role === "tool").map((t) => (t as { content: string }).content)).toEqual(['{"temp": 21}', "12:00"]);
    const users = conversation.turns.filter((t) => t.role === "user").map((t) => (t as { text: string }).text.trim());
    expect(users.some((text) => text.endsWith("What's the weather in Paris, and get_time there?"))).toBe(true);
  });

  it("Mistral: names each result by its call_id, and reads a quoted content as the text it quotes", () => {
    const conversation = mistral.read(mistralPrompt(history.slice(0, 3).concat([{ role: "tool", content: '"sunny"', tool_call_id: "abc123XYZ" }]), [WEATHER]))!;
    expect(conversation.turns.at(-1)).toEqual({ role: "tool", content: "sunny", callId: "abc123XYZ" });
  });

  it("Gemma: the user's words are what follows the function list", () => {
    const conversation = gemma.read(gemmaPrompt(request("Please search."), [WEATHER, TIME]))!;
    expect(conversation.turns).toEqual([{ role: "user", text: "Please search." }]);
  });
});

describe("answers", () => {
  it.each([
    ["qwen-14b", qwenPrompt],
    ["mistral-7b", mistralPrompt],
    ["gemma-2b-it", gemmaPrompt],
  ] as const)("%s answers plain text when no tools or JSON are asked for, as before", (model, render) => {
    const answer = planned(model, render(request("Tell me about rivers.")), 40);
    expect(answer.malformed).toBeUndefined();
    expect(answer.completion.text).toMatch(/^[A-Z][a-z]+( [a-z]+)*/);
  });

  it("Qwen: calls each mentioned tool in its own <tool_call> block, arguments fitting the parameters", () => {
    const answer = planned("qwen-32b", qwenPrompt(request("Use get_time for Berlin, then the weather (get_weather) there."), [WEATHER, TIME]));
    const calls = qwenCalls(answer.completion.text);
    expect(calls.map((c) => c.name)).toEqual(["get_time", "get_weather"]);
    expect(fits(TIME.parameters, calls[0]!.arguments)).toBe(true);
    expect(fits(WEATHER.parameters, calls[1]!.arguments)).toBe(true);
    expect(answer.completion.finishReason).toBe("stop");
  });

  it("Mistral: calls as [TOOL_CALLS] with ids of nine alphanumerics", () => {
    const answer = planned("mistral-7b", mistralPrompt(request("get weather for Lyon please"), [WEATHER, TIME]));
    const calls = mistralCalls(answer.completion.text);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.name).toBe("get_weather");
    expect(calls[0]!.id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(fits(WEATHER.parameters, calls[0]!.arguments)).toBe(true);
  });

  it("Gemma: calls as a Python list, with Python literals", () => {
    const boolTool: Fn = { name: "set_alarm", parameters: { type: "object", properties: { on: { type: "boolean" }, label: { type: "null" } }, required: ["on", "label"] } };
    const answer = planned("gemma-2b-it", gemmaPrompt(request("get_weather, then set_alarm"), [WEATHER, boolTool]));
    const text = answer.completion.text;
    expect(text).toMatch(/^\[get_weather\(city="[^"]*", days=\d(, unit="(celsius|fahrenheit)")?\), set_alarm\(on=(True|False), label=None\)\]$/);
    const calls = readCallList(text)!;
    expect(fits(WEATHER.parameters, calls[0]!.arguments)).toBe(true);
  });

  it("calls a tool without parameters with no arguments", () => {
    expect(planned("gemma-2b-it", gemmaPrompt(request("ping it"), [PING])).completion.text).toBe("[ping()]");
    expect(qwenCalls(planned("qwen-14b", qwenPrompt(request("ping"), [PING])).completion.text)).toEqual([{ name: "ping", arguments: {} }]);
  });

  it("follows the instructions: a required call, a named function, at most one call", () => {
    expect(qwenCalls(planned("qwen-14b", qwenPrompt(request("Hello"), [TIME, WEATHER], [INSTRUCTIONS.mustCallATool])).completion.text)[0]!.name).toBe("get_time");
    const named = planned("qwen-14b", qwenPrompt(request("get_time please"), [TIME, WEATHER], ["You must call the function get_weather."]));
    expect(qwenCalls(named.completion.text).map((c) => c.name)).toEqual(["get_weather"]);
    const one = planned("mistral-7b", mistralPrompt(request("get_time and get_weather"), [TIME, WEATHER], [INSTRUCTIONS.oneCallAtMost]));
    expect(mistralCalls(one.completion.text).map((c) => c.name)).toEqual(["get_time"]);
    expect(planned("qwen-14b", qwenPrompt(request("Hello"), [TIME, WEATHER])).malformed).toBeUndefined();
  });

  it.each([
    ["qwen-70b", qwenPrompt],
    ["mistral-7b", mistralPrompt],
    ["gemma-2b-it", gemmaPrompt],
  ] as const)("%s: once the results are in, quotes each one verbatim and goes on in prose", (model, render) => {
    const messages: Message[] = [
      ...request("What is the weather in Paris? Use get_weather."),
      { role: "assistant", tool_calls: [{ id: "abc123XYZ", name: "get_weather", arguments: { city: "Paris", days: 1 } }] },
      { role: "tool", content: '{"temp": 21}', tool_call_id: "abc123XYZ" },
    ];
    const answer = planned(model, render(messages, [WEATHER]), 60);
    expect(answer.malformed).toBeUndefined();
    expect(answer.completion.text).toMatch(/^get_weather returned \{"temp": 21\}\. [A-Z][a-z]+/);
    expect(answer.completion.completionTokens).toBe(answer.completion.tokens.length);
    expect(answer.completion.completionTokens).toBeLessThanOrEqual(60);
  });

  it("answers JSON fitting the schema given, and an object for json_object", () => {
    const schema = {
      type: "object",
      properties: { title: { type: "string", maxLength: 30 }, year: { type: "integer", minimum: 1900, maximum: 2030 }, tags: { type: "array", items: { type: "string" }, maxItems: 3 } },
      required: ["title", "year"],
      additionalProperties: false,
    };
    for (const [model, render] of [["qwen-14b", qwenPrompt], ["mistral-7b", mistralPrompt], ["gemma-2b-it", gemmaPrompt]] as const) {
      const answer = planned(model, render(request("Describe a film."), [], [schemaInstruction(schema)]));
      expect(fits(schema, JSON.parse(answer.completion.text))).toBe(true);
      const object = planned(model, render(request("Describe a film."), [], [INSTRUCTIONS.jsonObject]));
      const value = JSON.parse(object.completion.text);
      expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
    }
  });

  it("reads the instructions from a prompt in no family's format too", () => {
    const answer = planned("qwen-14b", `user: Give me a number.\n\n${schemaInstruction({ type: "integer", minimum: 5, maximum: 5 })}`);
    expect(answer.completion.text).toBe("5");
  });

  it("cuts a structured answer off at max_tokens, as a model is", () => {
    const answer = planned("qwen-14b", qwenPrompt(request("get_weather"), [WEATHER]), 5);
    expect(answer.completion.finishReason).toBe("length");
    expect(answer.completion.completionTokens).toBe(5);
    expect(answer.completion.text).toBe(answer.completion.tokens.join(""));
  });

  it("answers the same prompt the same way", () => {
    const prompt = mistralPrompt(request("get_weather and get_time"), [WEATHER, TIME]);
    expect(planned("mistral-7b", prompt)).toEqual(planned("mistral-7b", prompt));
  });

  it("has a malformed form of each kind for a structured answer", () => {
    const answer = planned("qwen-14b", qwenPrompt(request("get_weather"), [WEATHER]));
    const broken = qwenCalls(answer.malformed!.violates_schema!.text);
    expect(fits(WEATHER.parameters, broken[0]!.arguments)).toBe(false);
    const cut = answer.malformed!.unparsable.text;
    expect(cut.startsWith('<tool_call>\n{"name": "get_weather", "arguments": {')).toBe(true);
    expect(cut).not.toContain("</tool_call>");
    // A tool without parameters has nothing to break: only the cut-short form.
    expect(planned("qwen-14b", qwenPrompt(request("ping"), [PING])).malformed!.violates_schema).toBeUndefined();
  });

  it("calls again after a correction, not counting the rejected call", () => {
    const messages: Message[] = [
      ...request("get_weather for Oslo"),
      { role: "assistant", content: '<tool_call>\n{"name": "get_weather", "arguments": {"city": 3}}\n</tool_call>' },
      { role: "user", content: `${INSTRUCTIONS.correctionLead} arguments.city: expected string. Answer again, correctly.` },
    ];
    expect(qwenCalls(planned("qwen-14b", qwenPrompt(messages, [WEATHER])).completion.text)[0]!.name).toBe("get_weather");
  });
});

describe("through the API", () => {
  let token: string;
  let allocation: string;

  beforeEach(async () => {
    await resetCluster();
    token = await issueToken();
    allocation = (await allocateOk(token, { min_vram_mb: 14336, min_tflops: 20 })).allocation_id;
  });

  const infer = (model: string, prompt: string, max_tokens = 256) =>
    call("POST", `/api/v1/inference/${allocation}`, { token, body: { model, prompt, max_tokens, temperature: 0.7 } });

  it("answers a tool call and bills its tokens", async () => {
    const prompt = qwenPrompt(request("get_weather in Rome"), [WEATHER]);
    const reply = await infer("qwen-14b", prompt);
    expect(reply.status).toBe(200);
    expect(qwenCalls(reply.body.text)[0]!.name).toBe("get_weather");
    expect(reply.body.finish_reason).toBe("stop");
    expect(reply.body.usage.completion_tokens).toBe(planned("qwen-14b", prompt, 256).completion.completionTokens);
    const log = (await call("GET", "/admin/inferences")).body.inferences;
    expect(log.at(-1)).toMatchObject({ text: reply.body.text, completion_tokens: reply.body.usage.completion_tokens });
  });

  it("streams a tool call in token pieces that join to the call", async () => {
    const prompt = mistralPrompt(request("get_weather in Rome"), [WEATHER]);
    const streamed = await streamInference(token, allocation, { model: "mistral-7b", prompt, max_tokens: 256 });
    const tokens = streamed.events.filter((e) => e.event === "token");
    const text = tokens.map((e) => e.data.text).join("");
    expect(mistralCalls(text)[0]!.name).toBe("get_weather");
    expect(tokens.length).toBeGreaterThan(10);
    expect(streamed.events.at(-1)!.data.usage.completion_tokens).toBe(tokens.length);
  });

  it("gives the next N structured answers malformed, alternating schema-breaking and unparsable, counting each", async () => {
    await setFaults({ malformed_output: { count: 3 } });
    expect((await call("GET", "/admin/faults")).body.malformed_output).toEqual({ count: 3 });
    // Text answers are not structured: they neither change nor use up the fault.
    const text = await infer("qwen-14b", qwenPrompt(request("Tell me about rivers.")));
    expect(text.body.text).toBe(planned("qwen-14b", qwenPrompt(request("Tell me about rivers.")), 256).completion.text);

    const prompt = qwenPrompt(request("get_weather in Rome"), [WEATHER]);
    const first = (await infer("qwen-14b", prompt)).body.text;
    expect(fits(WEATHER.parameters, qwenCalls(first)[0]!.arguments)).toBe(false);
    const second = (await infer("qwen-14b", prompt)).body.text;
    expect(second).not.toContain("</tool_call>");
    expect(() => qwenCalls(second)).toThrow();

    const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };
    const jsonPrompt = gemmaPrompt(request("A number?"), [], [schemaInstruction(schema)]);
    const third = (await infer("gemma-2b-it", jsonPrompt)).body.text;
    expect(fits(schema, JSON.parse(third))).toBe(false);

    const fourth = (await infer("gemma-2b-it", jsonPrompt)).body.text;
    expect(fits(schema, JSON.parse(fourth))).toBe(true);
    expect((await adminView()).body.faults_injected_total.malformed_output).toBe(3);
  });

  it("starts the count again when the faults are set again, and refuses a bad setting", async () => {
    await setFaults({ malformed_output: { count: 1 } });
    const prompt = gemmaPrompt(request("get_weather in Rome"), [WEATHER]);
    const broken = (await infer("gemma-2b-it", prompt)).body.text;
    expect(fits(WEATHER.parameters, readCallList(broken)![0]!.arguments)).toBe(false);
    expect(fits(WEATHER.parameters, readCallList((await infer("gemma-2b-it", prompt)).body.text)![0]!.arguments)).toBe(true);
    await setFaults({ malformed_output: { count: 1 } });
    expect(fits(WEATHER.parameters, readCallList((await infer("gemma-2b-it", prompt)).body.text)![0]!.arguments)).toBe(false);

    for (const [body, param] of [[{ malformed_output: { count: -1 } }, "malformed_output.count"], [{ malformed_output: { count: 1, rate: 1 } }, "malformed_output.rate"]] as const) {
      const reply = await call("PUT", "/admin/faults", { body });
      expect(reply.status).toBe(400);
      expect(reply.body.error.param).toBe(param);
    }
  });
});
