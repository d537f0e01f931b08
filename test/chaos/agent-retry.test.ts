// An agent turn whose answer does not hold up is asked for once more with the reason shown to the
// model; twice wrong, the request fails clearly. The emulators spoil answers on demand
// (`malformed_output`), and their own records say what each inference was asked and billed.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { InferenceRecordView as Bill } from "../../workers/hostedai-emulator/src/views";
import { createCovenant, covenantUsage, deleteCovenant } from "../support/covenants";
import { hostedaiFaults, hostedaiCounters, localFaults } from "../support/faults";
import { call } from "../support/gateway";

const weather = {
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false } },
};
const ask = [{ role: "user", content: "Use get_weather for Lyon." }];

async function chat(covenant: string, body: Record<string, unknown>) {
  const res = await call("/v1/chat/completions", { method: "POST", headers: { "x-homeskillet-covenant": covenant }, body: JSON.stringify({ max_tokens: 120, ...body }) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function billsOf(covenantId: string): Promise<Bill[]> {
  const res = await env.HOSTEDAI.fetch("http://hostedai.test/admin/inferences");
  const { inferences } = (await res.json()) as { inferences: Bill[] };
  return inferences.filter((b) => b.metadata.workload_id === covenantId);
}

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

describe("a malformed answer on Hosted.AI", () => {
  it("is asked for again with the reason, and the good second answer is returned; usage and cost are both inferences'", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"], lease: { idle_timeout_s: 60 } });
    const before = (await hostedaiCounters()).faults_injected_total.malformed_output ?? 0;
    await hostedaiFaults.set({ malformed_output: { count: 1 } });
    const r = await chat(id, { model: "qwen-14b", messages: ask, tools: [weather] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const calls = r.body.choices[0].message.tool_calls as { function: { name: string; arguments: string } }[];
    expect(calls.map((c) => c.function.name)).toEqual(["get_weather"]);
    expect(typeof JSON.parse(calls[0]!.function.arguments).city).toBe("string");
    expect((await hostedaiCounters()).faults_injected_total.malformed_output).toBe(before + 1);

    const bills = await billsOf(id);
    expect(bills).toHaveLength(2);
    // The retry showed the model its bad answer and why it was refused.
    expect(bills[1]!.prompt_tail).toContain("Your previous answer was not valid:");
    expect(bills[1]!.prompt_tail).toContain(bills[0]!.text.trim().slice(0, 40));
    expect(r.body.usage).toEqual({
      prompt_tokens: bills[0]!.prompt_tokens + bills[1]!.prompt_tokens,
      completion_tokens: bills[0]!.completion_tokens + bills[1]!.completion_tokens,
      total_tokens: bills[0]!.prompt_tokens + bills[1]!.prompt_tokens + bills[0]!.completion_tokens + bills[1]!.completion_tokens,
    });
    expect(r.body.homeskillet.cost_usd).toBeCloseTo(bills[0]!.cost_usd + bills[1]!.cost_usd, 12);
    await deleteCovenant(id);
  });

  it("fails with tool_call_invalid when the retry is malformed too, and books what both cost", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], lease: { idle_timeout_s: 60 } });
    await hostedaiFaults.set({ malformed_output: { count: 2 } });
    const r = await chat(id, { model: "mistral-7b", messages: ask, tools: [weather], tool_choice: "required" });
    expect(r.status, JSON.stringify(r.body)).toBe(502);
    expect(r.body.error.code).toBe("tool_call_invalid");
    expect(r.body.error.message).toMatch(/also after a retry/);
    const bills = await billsOf(id);
    expect(bills).toHaveLength(2);
    // The failure was billed upstream: the ledger says so, to the cent and beyond.
    const usage = await covenantUsage(id);
    expect(usage.total_usd).toBeCloseTo(bills[0]!.cost_usd + bills[1]!.cost_usd, 12);
    expect(usage.total_usd).toBeGreaterThan(0);
    await deleteCovenant(id);
  });

  it("fails with structured_output_invalid when JSON does not fit twice", async () => {
    const { id } = await createCovenant({ models: ["qwen-14b"] });
    await hostedaiFaults.set({ malformed_output: { count: 2 } });
    const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false };
    const r = await chat(id, { model: "qwen-14b", messages: [{ role: "user", content: "A number." }], response_format: { type: "json_schema", json_schema: { name: "num", schema } } });
    expect([r.status, r.body.error?.code]).toEqual([502, "structured_output_invalid"]);
    await deleteCovenant(id);
  });
});

describe("a malformed answer on the local node", () => {
  it("is retried there once, and returned checked", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["local"] });
    await localFaults.set({ malformed_output: { count: 1 } });
    const r = await chat(id, { model: "mistral-7b", messages: ask, tools: [weather] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.homeskillet.pool_id).toBe("local");
    expect(typeof JSON.parse(r.body.choices[0].message.tool_calls[0].function.arguments).city).toBe("string");
    await deleteCovenant(id);
  });
});
