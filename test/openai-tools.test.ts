// Tool calling and structured outputs through /v1/chat/completions, on each model family over
// Hosted.AI (rendered prompts, parsed answers) and on the local node (passed through). The
// emulators answer as the published formats say a model would; what reached them is read back
// from their own records.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { InferenceRecordView as Bill } from "../workers/hostedai-emulator/src/views";
import { createCovenant, covenantUsage, deleteCovenant } from "./support/covenants";
import { call } from "./support/gateway";

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } }, required: ["city"], additionalProperties: false },
  },
};
const time = {
  type: "function",
  function: { name: "get_time", description: "Local time in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}
interface Completion {
  model: string;
  choices: { message: { role: string; content: string | null; tool_calls?: ToolCall[] }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  homeskillet: { pool_id: string; strike_id: string; cost_usd: number };
}

async function chat(covenant: string, body: Record<string, unknown>): Promise<{ status: number; body: Completion & { error?: { code: string; message: string; param: string | null } } }> {
  const res = await call("/v1/chat/completions", { method: "POST", headers: { "x-homeskillet-covenant": covenant }, body: JSON.stringify({ max_tokens: 64, ...body }) });
  return { status: res.status, body: (await res.json()) as never };
}

async function billsOf(covenantId: string): Promise<Bill[]> {
  const res = await env.HOSTEDAI.fetch("http://hostedai.test/admin/inferences");
  const { inferences } = (await res.json()) as { inferences: Bill[] };
  return inferences.filter((b) => b.metadata.workload_id === covenantId);
}

/** What the family's template must have put in the prompt for the tools to be seen. */
const TOOL_MARKERS: Record<string, string> = { "qwen-14b": "<tools>", "mistral-7b": "[AVAILABLE_TOOLS]", "gemma-2b-it": "You have access to functions" };
const ask = [{ role: "user", content: "What is get_weather saying for Paris?" }];

describe.each(Object.keys(TOOL_MARKERS))("tool calls on Hosted.AI with %s", (model) => {
  it("calls the tool with arguments that fit its schema, then answers from the tool's result", async () => {
    const { id } = await createCovenant({ models: [model] });
    const first = await chat(id, { model, messages: ask, tools: [weather, time] });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const choice = first.body.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.tool_calls).toHaveLength(1);
    const [call0] = choice.message.tool_calls!;
    expect(call0!.type).toBe("function");
    expect(call0!.id).toMatch(/^call_/);
    expect(call0!.function.name).toBe("get_weather");
    const args = JSON.parse(call0!.function.arguments) as Record<string, unknown>;
    expect(typeof args.city).toBe("string");
    expect(Object.keys(args).every((k) => k === "city" || k === "unit")).toBe(true);
    if ("unit" in args) expect(["c", "f"]).toContain(args.unit);

    // The upstream saw the tools as the family's template offers them, and billed the rendered prompt.
    const [bill] = await billsOf(id);
    expect(bill!.prompt_tail).toContain(TOOL_MARKERS[model]);
    expect(bill!.prompt_tail).toContain("get_weather");
    expect(first.body.usage).toEqual({ prompt_tokens: bill!.prompt_tokens, completion_tokens: bill!.completion_tokens, total_tokens: bill!.prompt_tokens + bill!.completion_tokens });

    // The agent runs the tool and sends its result back: the answer is prose built on it.
    const result = JSON.stringify({ temp_c: 21, sky: "clear" });
    const second = await chat(id, {
      model,
      tools: [weather, time],
      messages: [...ask, { role: "assistant", content: null, tool_calls: choice.message.tool_calls }, { role: "tool", tool_call_id: call0!.id, content: result }],
    });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.choices[0]!.finish_reason).not.toBe("tool_calls");
    expect(second.body.choices[0]!.message.content).toContain(result);
    await deleteCovenant(id);
  });
});

describe("tool_choice and parallel_tool_calls", () => {
  it("calls both mentioned tools at once when parallel calls are allowed, one at a time when not", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    const both = [{ role: "user", content: "Use get_weather and get_time for Oslo." }];
    const parallel = await chat(id, { model: "qwen-14b", max_tokens: 300, messages: both, tools: [weather, time] });
    expect(parallel.status, JSON.stringify(parallel.body)).toBe(200);
    expect(parallel.body.choices[0]!.message.tool_calls!.map((c) => c.function.name)).toEqual(["get_weather", "get_time"]);
    const ids = parallel.body.choices[0]!.message.tool_calls!.map((c) => c.id);
    expect(new Set(ids).size).toBe(2);
    const single = await chat(id, { model: "qwen-14b", max_tokens: 300, messages: both, tools: [weather, time], parallel_tool_calls: false });
    expect(single.body.choices[0]!.message.tool_calls!.map((c) => c.function.name)).toEqual(["get_weather"]);
    await deleteCovenant(id);
  });

  it("honours required, a named function and none", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"] });
    const plain = [{ role: "user", content: "Hello there." }];
    const auto = await chat(id, { model: "mistral-7b", messages: plain, tools: [weather, time] });
    expect(auto.body.choices[0]!.finish_reason).not.toBe("tool_calls");
    const required = await chat(id, { model: "mistral-7b", messages: plain, tools: [weather, time], tool_choice: "required" });
    expect(required.body.choices[0]!.message.tool_calls).toHaveLength(1);
    const named = await chat(id, { model: "mistral-7b", messages: plain, tools: [weather, time], tool_choice: { type: "function", function: { name: "get_time" } } });
    expect(named.body.choices[0]!.message.tool_calls!.map((c) => c.function.name)).toEqual(["get_time"]);
    const none = await chat(id, { model: "mistral-7b", messages: ask, tools: [weather, time], tool_choice: "none" });
    expect(none.body.choices[0]!.message.tool_calls).toBeUndefined();
    // With none, the tools are not offered at all.
    const bills = await billsOf(id);
    expect(bills.at(-1)!.prompt_tail).not.toContain("[AVAILABLE_TOOLS]");
    await deleteCovenant(id);
  });

  it("refuses a named function that is not among the tools, and tool_choice without tools", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"] });
    const missing = await chat(id, { model: "mistral-7b", messages: ask, tools: [weather], tool_choice: { type: "function", function: { name: "get_time" } } });
    expect([missing.status, missing.body.error?.param]).toEqual([400, "tool_choice.function.name"]);
    const none = await chat(id, { model: "mistral-7b", messages: ask, tool_choice: "required" });
    expect([none.status, none.body.error?.param]).toEqual([400, "tool_choice"]);
    const patterned = await chat(id, { model: "mistral-7b", messages: ask, tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "string", pattern: "^(a+)+$" } } } } }] });
    expect([patterned.status, patterned.body.error?.code, patterned.body.error?.param]).toEqual([400, "unsupported_parameter", "tools.0.function.parameters.properties.a.pattern"]);
    await deleteCovenant(id);
  });
});

describe("structured outputs", () => {
  const person = {
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer", minimum: 0, maximum: 150 }, tags: { type: "array", items: { type: "string" }, maxItems: 3 } },
    required: ["name", "age", "tags"],
    additionalProperties: false,
  };

  it.each(["qwen-14b", "mistral-7b", "gemma-2b-it"])("answers JSON that fits the schema on %s", async (model) => {
    const { id } = await createCovenant({ models: [model] });
    const r = await chat(id, {
      model,
      max_tokens: 200,
      messages: [{ role: "user", content: "Describe a person." }],
      response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: person } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const value = JSON.parse(r.body.choices[0]!.message.content!) as { name: unknown; age: unknown; tags: unknown[] };
    expect(Object.keys(value).sort()).toEqual(["age", "name", "tags"]);
    expect(typeof value.name).toBe("string");
    expect(Number.isInteger(value.age) && (value.age as number) >= 0 && (value.age as number) <= 150).toBe(true);
    expect(Array.isArray(value.tags) && value.tags.length <= 3 && value.tags.every((t) => typeof t === "string")).toBe(true);
    const [bill] = await billsOf(id);
    expect(bill!.prompt_tail).toContain('"maxItems":3');
    await deleteCovenant(id);
  });

  it("refuses an answer cut off by max_tokens without retrying, naming max_tokens", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    const r = await chat(id, { model: "qwen-14b", max_tokens: 3, messages: [{ role: "user", content: "Describe a person." }], response_format: { type: "json_schema", json_schema: { name: "person", schema: person } } });
    expect([r.status, r.body.error?.code, r.body.error?.param]).toEqual([422, "structured_output_invalid", "max_tokens"]);
    expect(await billsOf(id)).toHaveLength(1);
    await deleteCovenant(id);
  });

  it("answers a JSON object for json_object", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    const r = await chat(id, { model: "qwen-14b", messages: [{ role: "user", content: "Some JSON please." }], response_format: { type: "json_object" } });
    const value = JSON.parse(r.body.choices[0]!.message.content!) as unknown;
    expect(value !== null && typeof value === "object" && !Array.isArray(value)).toBe(true);
    await deleteCovenant(id);
  });
});

describe("on the local node", () => {
  it("passes tools through and returns the node's calls, checked", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["local"] });
    const r = await chat(id, { model: "mistral-7b", messages: ask, tools: [weather, time] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.homeskillet.pool_id).toBe("local");
    expect(r.body.choices[0]!.finish_reason).toBe("tool_calls");
    const call0 = r.body.choices[0]!.message.tool_calls![0]!;
    expect(call0.function.name).toBe("get_weather");
    expect(typeof (JSON.parse(call0.function.arguments) as { city: unknown }).city).toBe("string");
    await deleteCovenant(id);
  });

  it("passes a JSON schema through as a response format", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["local"] });
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"], additionalProperties: false };
    const r = await chat(id, { model: "mistral-7b", messages: [{ role: "user", content: "ok?" }], response_format: { type: "json_schema", json_schema: { name: "ok", schema } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(typeof (JSON.parse(r.body.choices[0]!.message.content!) as { ok: unknown }).ok).toBe("boolean");
    await deleteCovenant(id);
  });
});

describe("agents and the rest of the gateway", () => {
  it("routes an agent turn that names no model to a model that handles tools", async () => {
    const { id } = await createCovenant({});
    const r = await chat(id, { model: "auto", messages: [{ role: "user", content: "What is the capital of France? Use get_weather." }], tools: [weather] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.model).toBe("mistral-7b");
    await deleteCovenant(id);
  });

  it("never decomposes a request with tools, and refuses fusion asked for with them", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    const many = "1. Summarise the weather. 2. List three cities. 3. Translate hello into French. 4. Name a river.";
    const r = await chat(id, { model: "qwen-14b", messages: [{ role: "user", content: `${many} Use get_weather.` }], tools: [weather] });
    expect(r.status).toBe(200);
    expect((r.body.homeskillet as { fusion?: unknown }).fusion).toBeUndefined();
    expect(await billsOf(id)).toHaveLength(1);
    const refused = await chat(id, { model: "qwen-14b", messages: ask, tools: [weather], homeskillet: { fusion: { strategy: "split" } } });
    expect([refused.status, refused.body.error?.param]).toEqual([400, "homeskillet.fusion"]);
    await deleteCovenant(id);
  });

  it("books what the upstream billed for an agent turn", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"], lease: { idle_timeout_s: 60 } });
    await chat(id, { model: "qwen-14b", messages: ask, tools: [weather] });
    const bills = await billsOf(id);
    const usage = await covenantUsage(id);
    const billed = bills.reduce((s, b) => s + b.cost_usd, 0);
    expect(usage.total_usd).toBeCloseTo(billed, 12);
    expect(usage.by_model.find((m) => m.key === "qwen-14b")).toMatchObject({ prompt_tokens: bills[0]!.prompt_tokens, completion_tokens: bills[0]!.completion_tokens });
    await deleteCovenant(id);
  });
});
