// A stream that breaks after its first token is continued by the next target of the covenant's
// fallback chain from the text already sent — on the local node with the answer as an assistant
// prefix, on Hosted.AI with a continuation prompt — so the client reads one stream. What the
// client reads, and what each attempt was billed, is checked against the emulators' own records.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { createCovenant, covenantUsage, deleteCovenant } from "../support/covenants";
import { hostedaiFaults, localFaults } from "../support/faults";
import { call } from "../support/gateway";
import type { InferenceRecordView as Bill } from "../../workers/hostedai-emulator/src/views";

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

interface Chunk {
  model: string;
  choices?: { delta: { content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  homeskillet?: Record<string, unknown>;
  error?: { code: string; message: string };
}

const PROMPT = "Tell me a story about a river.";
const ASKED = `user: ${PROMPT}`;

async function streamChat(covenantId: string, extra: Record<string, unknown> = {}) {
  const res = await call("/v1/chat/completions", {
    method: "POST",
    headers: { "x-homeskillet-covenant": covenantId },
    body: JSON.stringify({
      model: "mistral-7b",
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 40,
      temperature: 0.5,
      stream: true,
      stream_options: { include_usage: true },
      ...extra,
    }),
  });
  expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
  const data = (await res.text()).split("\n\n").filter((b) => b.startsWith("data: ")).map((b) => b.slice(6));
  const chunks = data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as Chunk);
  const text = chunks.map((c) => c.choices?.[0]?.delta.content ?? "").join("");
  const finish = chunks.find((c) => c.choices?.[0]?.finish_reason)?.choices?.[0]?.finish_reason ?? null;
  const seams = chunks.filter((c) => c.homeskillet?.continued === true && c.choices?.[0]?.delta.content);
  return { data, chunks, text, finish, seams, usage: chunks.find((c) => c.usage)?.usage };
}

async function billsOf(covenantId: string): Promise<Bill[]> {
  const res = await env.HOSTEDAI.fetch("http://hostedai.test/admin/inferences");
  const { inferences } = (await res.json()) as { inferences: Bill[] };
  return inferences.filter((b) => b.metadata.workload_id === covenantId);
}

/** Cuts this covenant's streams on one pool after `n` tokens, and no one else's (its allocations' workload_id). */
const cutOn = (pool: string, covenantId: string, n: number) =>
  hostedaiFaults.set({ stream_cuts: [{ pool, metadata: { workload_id: covenantId }, after_tokens: n }] });

/**
 * Two Hosted.AI pools in the chain: mistral-7b's matrix pool type (standard), then premium, which
 * `qos.pool_type: "any"` lets it fall back to.
 */
const TWO_POOLS = { fallback: ["standard-us-east", "premium-us-east"], qos: { pool_type: "any" as const } };

describe("a stream that breaks after its first token", () => {
  it("is continued on Hosted.AI with a continuation prompt: one stream, no text lost or repeated, billed as the emulator billed it", async () => {
    // Leases are held a while, so no idle remainder is booked yet: the ledger holds the strike alone.
    const { id } = await createCovenant({ models: ["mistral-7b"], ...TWO_POOLS, lease: { idle_timeout_s: 60 } });
    await cutOn("standard-us-east", id, 6);
    const out = await streamChat(id);
    expect(out.data.at(-1)).toBe("[DONE]");
    expect(out.chunks.some((c) => c.error)).toBe(false);

    const bills = await billsOf(id);
    expect(bills.map((b) => [b.pool_id, b.outcome])).toEqual([
      ["standard-us-east", "cut"],
      ["premium-us-east", "done"],
    ]);
    const [cut, rest] = bills as [Bill, Bill];
    expect(cut.completion_tokens).toBe(6);
    // The continuation was asked to carry on the answer, exactly as the client had it.
    expect(rest.prompt_tail.endsWith(`${ASKED}\nassistant: ${cut.text}`)).toBe(true);
    expect(rest.completion_tokens).toBeLessThanOrEqual(40 - 6);
    expect(out.text).toBe(cut.text + rest.text);
    expect(out.text).not.toMatch(/ {2}/);

    // The chunk where the text continues says so.
    expect(out.seams).toHaveLength(1);
    expect(out.seams[0]!.homeskillet).toMatchObject({ continued: true, model: "mistral-7b", pool_id: "premium-us-east", after_tokens: 6, reason: "stream_cut" });
    expect(out.seams[0]!.choices![0]!.delta.content).toBe(rest.text.split(" ")[0] + " ");
    expect(["stop", "length"]).toContain(out.finish);

    // Usage is both attempts', as the emulator counted them; cost too, booked on each pool.
    expect(out.usage).toEqual({
      prompt_tokens: cut.prompt_tokens + rest.prompt_tokens,
      completion_tokens: cut.completion_tokens + rest.completion_tokens,
      total_tokens: cut.prompt_tokens + rest.prompt_tokens + cut.completion_tokens + rest.completion_tokens,
    });
    const final = out.chunks.find((c) => c.choices?.[0]?.finish_reason)!;
    expect(final.homeskillet!.cost_usd as number).toBeCloseTo(cut.cost_usd + rest.cost_usd, 12);
    const usage = await covenantUsage(id);
    const onPool = (pool: string) => usage.by_pool.find((p) => p.key === pool)!;
    for (const [pool, bill] of [["standard-us-east", cut], ["premium-us-east", rest]] as const) {
      expect(onPool(pool)).toMatchObject({ prompt_tokens: bill.prompt_tokens, completion_tokens: bill.completion_tokens });
      expect(onPool(pool).cost_usd).toBeCloseTo(bill.cost_usd, 12);
    }
    expect(usage.total_usd).toBeCloseTo(cut.cost_usd + rest.cost_usd, 12);
    expect(usage.by_model.find((m) => m.key === "mistral-7b")).toMatchObject({
      prompt_tokens: cut.prompt_tokens + rest.prompt_tokens,
      completion_tokens: cut.completion_tokens + rest.completion_tokens,
    });
    await deleteCovenant(id);
  });

  it("is continued on the local node with the answer so far as an assistant prefix", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["standard-us-east", "local"] });
    await cutOn("standard-us-east", id, 5);
    const out = await streamChat(id);
    expect(out.data.at(-1)).toBe("[DONE]");
    const [cut] = await billsOf(id);
    expect(cut).toMatchObject({ outcome: "cut", completion_tokens: 5 });

    // What the node answers to the prefill request is exactly what the client read after the seam.
    const prefill = await env.LOCAL_NODE.fetch("http://local-node.test/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "mistral-7b",
        messages: [{ role: "user", content: ASKED }, { role: "assistant", content: cut!.text }],
        continue_final_message: true,
        add_generation_prompt: false,
        max_tokens: 40 - 5,
        temperature: 0.5,
      }),
    });
    const expected = (await prefill.json()) as { choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };
    const continuation = expected.choices[0]!.message.content;
    expect(out.text).toBe(cut!.text + continuation);
    expect(out.seams).toHaveLength(1);
    expect(out.seams[0]!.homeskillet).toMatchObject({ continued: true, pool_id: "local", model: "mistral-7b", after_tokens: 5 });
    expect(out.finish).toBe(expected.choices[0]!.finish_reason);
    expect(out.usage).toMatchObject({
      prompt_tokens: cut!.prompt_tokens + expected.usage.prompt_tokens,
      completion_tokens: 5 + expected.usage.completion_tokens,
    });
  });

  it("is continued on Hosted.AI after the local node broke", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["local", "standard-us-east"] });
    await localFaults.set({ stream_cut_after_tokens: 4 });
    const out = await streamChat(id);
    expect(out.data.at(-1)).toBe("[DONE]");
    const [rest] = await billsOf(id);
    expect(rest).toMatchObject({ pool_id: "standard-us-east", outcome: "done" });
    const sofar = out.text.slice(0, out.text.length - rest!.text.length);
    // The node's tokens carry their space in front: the continuation starts with one.
    expect(sofar.split(" ").filter(Boolean)).toHaveLength(4);
    expect(rest!.text.startsWith(" ")).toBe(true);
    expect(rest!.prompt_tail.endsWith(`${ASKED}\nassistant: ${sofar}`)).toBe(true);
    expect(out.seams[0]!.homeskillet).toMatchObject({ pool_id: "standard-us-east", after_tokens: 4 });
  });

  it("keeps a stop sequence that spans the seam", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], ...TWO_POOLS });
    await cutOn("standard-us-east", id, 6);
    const whole = await streamChat(id);
    const [cut] = await billsOf(id);
    const at = cut!.text.length - 5;
    const stop = whole.text.slice(at, cut!.text.length + 4);
    expect(whole.text.indexOf(stop)).toBe(at);
    const stopped = await streamChat(id, { stop });
    expect(stopped.text).toBe(whole.text.slice(0, at));
    expect(stopped.finish).toBe("stop");
    expect(stopped.data.at(-1)).toBe("[DONE]");
  });
});

describe("a stream that cannot be continued keeps the explicit error", () => {
  const expectExplicitError = (out: Awaited<ReturnType<typeof streamChat>>, tokens: number) => {
    expect(out.data).not.toContain("[DONE]");
    expect(out.text.trim().split(/\s+/)).toHaveLength(tokens);
    expect(out.chunks.some((c) => c.choices?.[0]?.finish_reason === "error")).toBe(true);
    expect(out.chunks.at(-1)!.error).toMatchObject({ code: "stream_interrupted" });
    return out.chunks.at(-1)!.error!;
  };

  it("when the covenant says continue_streams: false", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: TWO_POOLS.fallback, qos: { ...TWO_POOLS.qos, continue_streams: false } });
    await cutOn("standard-us-east", id, 3);
    expectExplicitError(await streamChat(id), 3);
    expect((await billsOf(id)).map((b) => b.pool_id)).toEqual(["standard-us-east"]);
  });

  it("when no target is left after the one that broke", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["standard-us-east"] });
    await cutOn("standard-us-east", id, 3);
    const error = expectExplicitError(await streamChat(id), 3);
    expect(error.message).toMatch(/no target was left/);
  });

  it("when the continuation fails too before producing, and the part that was sent is still booked", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], ...TWO_POOLS });
    await hostedaiFaults.set({
      stream_cuts: [{ pool: "standard-us-east", metadata: { workload_id: id }, after_tokens: 3 }],
      errors: [{ pool: "premium-us-east", endpoint: "allocate", rate: 1, status: 500 }],
    });
    const error = expectExplicitError(await streamChat(id), 3);
    expect(error.message).toMatch(/no target could continue it \(tried premium-us-east\)/);
    const [cut] = await billsOf(id);
    const usage = await covenantUsage(id);
    expect(usage.by_model.find((m) => m.key === "mistral-7b")).toMatchObject({ completion_tokens: 3, prompt_tokens: cut!.prompt_tokens });
  });
});
