// Tools and structured output on the OpenAI API: validation as vLLM/OpenAI do it, tool calls in
// OpenAI's shapes (whole and streamed, read back by the official SDK too), JSON that fits the
// response format, a final answer quoting tool results, and malformed answers on demand.
import { Validator } from "@cfworker/json-schema";
import OpenAI from "openai";
import { beforeEach, describe, expect, it } from "vitest";
import { INSTRUCTIONS } from "../../shared/tool-policy";
import { call, postJson, resetDevice, setFaults, sseData, stats } from "./helpers";

beforeEach(() => resetDevice(0));

const fits = (schema: unknown, value: unknown) => new Validator(schema as object, "2020-12").validate(value).valid;

const weatherParams = {
  type: "object",
  properties: { city: { type: "string" }, days: { type: "integer", minimum: 1, maximum: 7 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["city", "days"],
  additionalProperties: false,
};
const weather = { type: "function", function: { name: "get_weather", description: "Weather in a city.", parameters: weatherParams } };
const time = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] } } };
const ping = { type: "function", function: { name: "ping" } };

const ask = (content: string) => [{ role: "user", content }];

interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}
interface Completion {
  choices: { message: { role: string; content: string | null; tool_calls: ToolCall[] }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function complete(body: Record<string, unknown>): Promise<Completion> {
  const response = await postJson("/v1/chat/completions", { model: "gemma-2b-it", max_tokens: 300, ...body });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json<Completion>();
}

async function expectBadRequest(body: Record<string, unknown>, param: string): Promise<void> {
  const response = await postJson("/v1/chat/completions", { model: "gemma-2b-it", ...body });
  const text = await response.text();
  expect(response.status, text).toBe(400);
  expect(JSON.parse(text).error.param).toBe(param);
}

describe("validation", () => {
  it.each<[string, Record<string, unknown>, string]>([
    ["a tool that is not a function", { messages: ask("hi"), tools: [{ type: "retrieval", function: { name: "x" } }] }, "tools[0].type"],
    ["a function without a name", { messages: ask("hi"), tools: [{ type: "function", function: { description: "d" } }] }, "tools[0].function.name"],
    ["a function name OpenAI refuses", { messages: ask("hi"), tools: [{ type: "function", function: { name: "get weather" } }] }, "tools[0].function.name"],
    ["parameters that are not an object", { messages: ask("hi"), tools: [{ type: "function", function: { name: "f", parameters: "x" } }] }, "tools[0].function.parameters"],
    ["two functions of one name", { messages: ask("hi"), tools: [weather, weather] }, "tools[1].function.name"],
    ["a tool_choice of another word", { messages: ask("hi"), tools: [weather], tool_choice: "always" }, "tool_choice"],
    ["a named tool_choice that names no tool", { messages: ask("hi"), tools: [weather], tool_choice: { type: "function", function: { name: "get_time" } } }, "tool_choice"],
    ["a tool_choice without tools", { messages: ask("hi"), tool_choice: "required" }, "tool_choice"],
    ["parallel_tool_calls that is not a boolean", { messages: ask("hi"), tools: [weather], parallel_tool_calls: "no" }, "parallel_tool_calls"],
    ["a response_format of an unknown type", { messages: ask("hi"), response_format: { type: "xml" } }, "response_format.type"],
    ["json_schema without its json_schema", { messages: ask("hi"), response_format: { type: "json_schema" } }, "response_format.json_schema"],
    ["json_schema without a name", { messages: ask("hi"), response_format: { type: "json_schema", json_schema: { schema: {} } } }, "response_format.json_schema.name"],
    [
      "arguments given as an object",
      { messages: [...ask("hi"), { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: {} } }] }] },
      "messages[1].tool_calls[0].function.arguments",
    ],
    ["a tool message without tool_call_id", { messages: [...ask("hi"), { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", content: "x" }] }, "messages[2].tool_call_id"],
    ["a tool message that answers no call", { messages: [...ask("hi"), { role: "tool", content: "x", tool_call_id: "c" }] }, "messages[1].role"],
    ["tool_calls on a user message", { messages: [{ role: "user", content: "hi", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }] }, "messages[0].tool_calls"],
  ])("refuses %s, naming the field", async (_name, body, param) => {
    await expectBadRequest(body, param);
  });

  it("accepts tool_choice none without tools, and required with an empty list as none", async () => {
    expect((await complete({ messages: ask("hi"), tool_choice: "none" })).choices[0]!.finish_reason).not.toBe("tool_calls");
    expect((await complete({ messages: ask("hi get_weather"), tools: [], tool_choice: "required" })).choices[0]!.message.tool_calls).toEqual([]);
  });
});

describe("tool calls", () => {
  it("calls the mentioned tools in order, as OpenAI answers: call_ ids, null content, finish_reason tool_calls", async () => {
    const reply = await complete({ messages: ask("What is get_time in Oslo, and get weather there?"), tools: [weather, time] });
    const choice = reply.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls.map((c) => c.function.name)).toEqual(["get_time", "get_weather"]);
    for (const c of choice.message.tool_calls) {
      expect(c.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
      expect(c.type).toBe("function");
    }
    expect(fits(time.function.parameters, JSON.parse(choice.message.tool_calls[0]!.function.arguments))).toBe(true);
    expect(fits(weatherParams, JSON.parse(choice.message.tool_calls[1]!.function.arguments))).toBe(true);
    expect(reply.usage.completion_tokens).toBeGreaterThan(2);
  });

  it("gives the same calls to the same request", async () => {
    const body = { messages: ask("get_weather in Oslo"), tools: [weather] };
    expect((await complete(body)).choices).toEqual((await complete(body)).choices);
  });

  it("follows tool_choice and parallel_tool_calls", async () => {
    const names = async (body: Record<string, unknown>) => (await complete(body)).choices[0]!.message.tool_calls.map((c) => c.function.name);
    expect(await names({ messages: ask("get_time and get_weather"), tools: [weather, time], parallel_tool_calls: false })).toEqual(["get_time"]);
    expect(await names({ messages: ask("Hello"), tools: [time, weather], tool_choice: "required" })).toEqual(["get_time"]);
    expect(await names({ messages: ask("get_time please"), tools: [time, weather], tool_choice: { type: "function", function: { name: "get_weather" } } })).toEqual(["get_weather"]);
    expect(await names({ messages: ask("get_time please"), tools: [time, weather], tool_choice: "none" })).toEqual([]);
    expect(await names({ messages: ask("Hello"), tools: [time, weather] })).toEqual([]);
    expect((await complete({ messages: ask("ping"), tools: [ping] })).choices[0]!.message.tool_calls[0]!.function.arguments).toBe("{}");
  });

  it("quotes each tool result verbatim once the calls are answered", async () => {
    const messages = [
      ...ask("Use get_weather and get_time for Oslo."),
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city": "Oslo", "days": 1}' } },
          { id: "call_b", type: "function", function: { name: "get_time", arguments: '{"tz": "Europe/Oslo"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_b", content: "09:30" },
      { role: "tool", tool_call_id: "call_a", content: '{"temp": 21}' },
    ];
    const reply = await complete({ messages, tools: [weather, time], max_tokens: 40 });
    const choice = reply.choices[0]!;
    expect(choice.message.tool_calls).toEqual([]);
    expect(choice.message.content).toMatch(/^get_time returned 09:30\. get_weather returned \{"temp": 21\}\. [A-Z]/);
    expect(reply.usage.completion_tokens).toBeLessThanOrEqual(40);
  });

  it("calls again after a correction, not counting the rejected call", async () => {
    const messages = [
      ...ask("get_weather for Oslo"),
      { role: "assistant", content: null, tool_calls: [{ id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city": 3}' } }] },
      { role: "user", content: `${INSTRUCTIONS.correctionLead} arguments.city: expected string. Answer again, correctly.` },
    ];
    expect((await complete({ messages, tools: [weather] })).choices[0]!.message.tool_calls.map((c) => c.function.name)).toEqual(["get_weather"]);
  });

  it("stops at max_tokens with finish_reason length", async () => {
    const choice = (await complete({ messages: ask("get_weather"), tools: [weather], max_tokens: 4 })).choices[0]!;
    expect(choice.finish_reason).toBe("length");
    expect(() => JSON.parse(choice.message.tool_calls[0]!.function.arguments)).toThrow();
  });
});

describe("structured output", () => {
  const schema = {
    type: "object",
    properties: { name: { type: "string" }, born: { type: "string", format: "date" }, tags: { type: "array", items: { type: "string" }, maxItems: 3 }, ref: { $ref: "#/$defs/ref" } },
    required: ["name", "born", "ref"],
    additionalProperties: false,
    $defs: { ref: { type: "object", properties: { id: { type: "integer", minimum: 1 } }, required: ["id"] } },
  };

  it("answers JSON that fits the json_schema, and an object for json_object", async () => {
    for (let i = 0; i < 5; i++) {
      const reply = await complete({ messages: ask(`Person ${i}?`), response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } } });
      expect(reply.choices[0]!.finish_reason).toBe("stop");
      expect(fits(schema, JSON.parse(reply.choices[0]!.message.content!))).toBe(true);
    }
    const object = JSON.parse((await complete({ messages: ask("Anything?"), response_format: { type: "json_object" } })).choices[0]!.message.content!);
    expect(typeof object === "object" && object !== null && !Array.isArray(object)).toBe(true);
    expect((await complete({ messages: ask("Text?"), response_format: { type: "text" } })).choices[0]!.message.content).toMatch(/^[A-Z]/);
  });

  it("answers JSON after the calls when tools and a response format are both given", async () => {
    const messages = [
      ...ask("get_time"),
      { role: "assistant", content: null, tool_calls: [{ id: "call_a", type: "function", function: { name: "get_time", arguments: '{"tz": "UTC"}' } }] },
      { role: "tool", tool_call_id: "call_a", content: "noon" },
    ];
    const reply = await complete({ messages, tools: [time], response_format: { type: "json_schema", json_schema: { name: "p", schema } } });
    expect(fits(schema, JSON.parse(reply.choices[0]!.message.content!))).toBe(true);
  });
});

describe("streaming", () => {
  async function stream(body: Record<string, unknown>): Promise<any[]> {
    const response = await postJson("/v1/chat/completions", { model: "gemma-2b-it", max_tokens: 300, stream: true, stream_options: { include_usage: true }, ...body });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    return events.slice(0, -1).map((e) => JSON.parse(e));
  }

  it("streams calls in OpenAI's chunks: a header per call, argument pieces by index, then finish_reason tool_calls", async () => {
    const body = { messages: ask("get_weather and get_time"), tools: [weather, time] };
    const whole = await complete(body);
    const chunks = await stream(body);
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    const finish = chunks.at(-2);
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: "tool_calls", logprobs: null });
    const deltas = chunks.slice(0, -2).map((c) => {
      expect(c.object).toBe("chat.completion.chunk");
      expect(c.choices[0].finish_reason).toBeNull();
      return c.choices[0].delta;
    });
    expect(deltas[0]).toEqual({ role: "assistant", content: null, tool_calls: [{ index: 0, id: expect.stringMatching(/^call_/), type: "function", function: { name: "get_weather", arguments: "" } }] });
    const rebuilt: { id?: string; name?: string; arguments: string }[] = [];
    for (const delta of deltas) {
      expect(delta.tool_calls).toHaveLength(1);
      const part = delta.tool_calls[0];
      if (part.id !== undefined) {
        expect(part.index).toBe(rebuilt.length);
        expect(part).toEqual({ index: part.index, id: part.id, type: "function", function: { name: part.function.name, arguments: "" } });
        rebuilt.push({ id: part.id, name: part.function.name, arguments: "" });
      } else {
        expect(Object.keys(part).sort()).toEqual(["function", "index"]);
        expect(Object.keys(part.function)).toEqual(["arguments"]);
        rebuilt[part.index]!.arguments += part.function.arguments;
      }
    }
    expect(rebuilt).toEqual(whole.choices[0]!.message.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })));
    expect(usage.usage.completion_tokens).toBe(deltas.length);
    expect(usage.usage).toEqual(whole.usage);
  });

  it("is read back by the official OpenAI SDK, whole and streamed", async () => {
    const client = new OpenAI({ apiKey: "unused", baseURL: "http://localhost/v1", fetch: (input, init) => call(new URL(String(input)).pathname, init), maxRetries: 0 });
    const body = { model: "gemma-2b-it", max_tokens: 300, messages: [{ role: "user" as const, content: "get_weather in Oslo" }], tools: [weather as OpenAI.ChatCompletionTool] };
    const whole = await client.chat.completions.create(body);
    const streamed = await client.chat.completions.stream({ ...body, stream: true }).finalChatCompletion();
    expect(streamed.choices[0]!.message.tool_calls).toEqual(whole.choices[0]!.message.tool_calls);
    expect(streamed.choices[0]!.finish_reason).toBe("tool_calls");
    const call0 = whole.choices[0]!.message.tool_calls![0]!;
    expect(call0.type === "function" && fits(weatherParams, JSON.parse(call0.function.arguments))).toBe(true);
  });

  it("streams JSON content in pieces", async () => {
    const chunks = await stream({ messages: ask("x"), response_format: { type: "json_object" } });
    const text = chunks.slice(0, -2).map((c) => c.choices[0].delta.content).join("");
    expect(typeof JSON.parse(text)).toBe("object");
  });
});

describe("malformed answers on demand", () => {
  it("spoils the next N structured answers, alternating schema-breaking and unparsable, and counts them", async () => {
    await setFaults({ malformed_output: { count: 3 } });
    // Plain text is not structured: it neither changes nor uses up the fault.
    expect((await complete({ messages: ask("hello") })).choices[0]!.message.content).toMatch(/^[A-Z]/);

    const body = { messages: ask("get_weather in Oslo"), tools: [weather] };
    const first = (await complete(body)).choices[0]!;
    expect(first.finish_reason).toBe("tool_calls");
    expect(fits(weatherParams, JSON.parse(first.message.tool_calls[0]!.function.arguments))).toBe(false);
    const second = (await complete(body)).choices[0]!;
    expect(second.message.tool_calls[0]!.function.name).toBe("get_weather");
    expect(() => JSON.parse(second.message.tool_calls[0]!.function.arguments)).toThrow();

    const schemaBody = { messages: ask("n?"), response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } } } };
    const third = (await complete(schemaBody)).choices[0]!.message.content!;
    expect(fits({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] }, JSON.parse(third))).toBe(false);
    const fourth = (await complete(schemaBody)).choices[0]!.message.content!;
    expect(fits({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] }, JSON.parse(fourth))).toBe(true);

    expect((await stats()).faults_injected_total.malformed_output).toBe(3);
  });

  it("gives JSON that does not parse when there is nothing in the schema to break", async () => {
    await setFaults({ malformed_output: { count: 1 } });
    const reply = await complete({ messages: ask("ping"), tools: [ping] });
    expect(() => JSON.parse(reply.choices[0]!.message.tool_calls[0]!.function.arguments)).toThrow();
  });

  it("is validated like the other faults", async () => {
    const response = await call("/admin/faults", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ malformed_output: { count: 1.5 } }) });
    expect(response.status).toBe(400);
    expect((await response.json<{ error: { param: string } }>()).error.param).toBe("malformed_output.count");
  });
});
