// The answer cache of plain strikes: repeats are answered without the upstream (checked against
// the Hosted.AI emulator's own inference log), only for deterministic requests unless the covenant
// opts in, never across tenants, never past the TTL, near-duplicates only when asked for, and
// gone with the covenant. A hit is booked as a strike that cost nothing.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { covenantObjectName } from "../src/covenant";
import { AnswerCache, answerIdentity, cacheVerdict, splitLastTurn, streamPieces, type CachedAnswer } from "../src/covenant/answer-cache";
import type { StrikeInput } from "../src/covenant/types";
import { defaultContract, modelCatalogue } from "../src/policy";
import { ChatCompletion, StrikeResponse, type CovenantContract } from "../src/schema";
import { covenantUsage, createCovenant, deleteCovenant } from "./support/covenants";
import { call, freshCovenant, KEYS, strike } from "./support/gateway";

interface Bill {
  metadata: Record<string, string>;
  cost_usd: number;
}

/** The emulator's billed inferences for one covenant (of one tenant), whichever metadata keys the allocations carry. */
async function billsOf(covenantId: string, tenant = "dev"): Promise<Bill[]> {
  const res = await env.HOSTEDAI.fetch("http://hostedai.test/admin/inferences");
  const { inferences } = (await res.json()) as { inferences: Bill[] };
  return inferences.filter((b) => (b.metadata.workload_id ?? b.metadata.covenant) === covenantId && (b.metadata.tenant_id ?? b.metadata.tenant ?? tenant) === tenant);
}

async function strikeOf(body: Record<string, unknown>, key?: string): Promise<{ body: StrikeResponse; header: string | null }> {
  const res = await strike(body, key);
  expect(res.status, await res.clone().text()).toBe(200);
  return { body: StrikeResponse.parse(await res.json()), header: res.headers.get("x-homeskillet-cache") };
}

const ask = (covenant: string, extra: Record<string, unknown> = {}) => ({ covenant_id: covenant, model: "gemma-2b-it", prompt: "Name three GPUs.", max_tokens: 24, temperature: 0, ...extra });

describe("the answer cache, end to end", () => {
  it("answers a repeated deterministic strike from the cache: no inference, no cost, and says so", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const first = await strikeOf(ask(id));
    expect(first.body.cache).toEqual({ status: "miss" });
    expect(first.header).toBe("miss");
    expect(first.body.cost_usd).toBeGreaterThan(0);
    const second = await strikeOf(ask(id));
    expect(second.header).toBe("hit");
    expect(second.body).toMatchObject({
      pool_id: "cache",
      allocation_id: "cache",
      model: "gemma-2b-it",
      cost_usd: 0,
      lease_reused: false,
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
      output: { content: first.body.output.content },
      finish_reason: first.body.finish_reason,
      cache: { status: "hit", source_strike_id: first.body.id, saved_usd: first.body.cost_usd, saved_tokens: first.body.usage.total_tokens },
    });
    expect(second.body.id).not.toBe(first.body.id);
    // The emulator ran and billed exactly one inference for the two strikes.
    const bills = await billsOf(id);
    expect(bills).toHaveLength(1);
    // The ledger counts both strikes, the hit at no cost, on the `cache` pool.
    const usage = await covenantUsage(id);
    expect(usage.strikes).toBe(2);
    expect(usage.by_pool.find((r) => r.key === "cache")).toMatchObject({ strikes: 1, cost_usd: 0 });
    expect(usage.total_usd).toBeCloseTo(bills[0]!.cost_usd, 9);
    await deleteCovenant(id);
  });

  it("runs identical strikes that arrive together once: the others wait for its answer", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const answers = await Promise.all(Array.from({ length: 5 }, () => strikeOf(ask(id, { prompt: "Name five GPUs." }))));
    expect(answers.map((a) => a.body.cache?.status).sort()).toEqual(["hit", "hit", "hit", "hit", "miss"]);
    const leader = answers.find((a) => a.body.cache?.status === "miss")!;
    for (const a of answers) expect(a.body.output.content).toBe(leader.body.output.content);
    expect(answers.filter((a) => a.body.cache?.source_strike_id === leader.body.id)).toHaveLength(4);
    expect(await billsOf(id)).toHaveLength(1);
    await deleteCovenant(id);
  });

  it("keeps what shapes the answer in the key: another max_tokens, model or prompt is a miss", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it", "mistral-7b"] });
    await strikeOf(ask(id));
    expect((await strikeOf(ask(id, { max_tokens: 25 }))).body.cache?.status).toBe("miss");
    expect((await strikeOf(ask(id, { model: "mistral-7b" }))).body.cache?.status).toBe("miss");
    expect((await strikeOf(ask(id, { prompt: "Name three CPUs." }))).body.cache?.status).toBe("miss");
    expect((await strikeOf(ask(id))).body.cache?.status).toBe("hit");
    expect(await billsOf(id)).toHaveLength(4);
    await deleteCovenant(id);
  });

  it("never caches at a non-zero temperature unless the covenant says always", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const warm = ask(id, { temperature: 0.7 });
    const a = await strikeOf(warm);
    const b = await strikeOf(warm);
    expect(a.body.cache).toBeUndefined();
    expect(b.body.cache).toBeUndefined();
    expect(a.header).toBeNull();
    expect(b.body.pool_id).not.toBe("cache");
    expect(await billsOf(id)).toHaveLength(2);

    const always = await createCovenant({ models: ["gemma-2b-it"], cache: { mode: "always" } });
    expect((await strikeOf({ ...warm, covenant_id: always.id })).body.cache?.status).toBe("miss");
    expect((await strikeOf({ ...warm, covenant_id: always.id })).body.cache?.status).toBe("hit");
    expect(await billsOf(always.id)).toHaveLength(1);

    const off = await createCovenant({ models: ["gemma-2b-it"], cache: { mode: "off" } });
    expect((await strikeOf(ask(off.id))).body.cache).toBeUndefined();
    expect((await strikeOf(ask(off.id))).body.cache).toBeUndefined();
    expect(await billsOf(off.id)).toHaveLength(2);
    for (const c of [id, always.id, off.id]) await deleteCovenant(c);
  });

  it("never serves one tenant's answer to another, under the same covenant id and prompt", async () => {
    const id = freshCovenant("shared");
    await createCovenant({ id, models: ["gemma-2b-it"] }, KEYS.acme);
    await createCovenant({ id, models: ["gemma-2b-it"] }, KEYS.globex);
    expect((await strikeOf(ask(id), KEYS.acme)).body.cache?.status).toBe("miss");
    expect((await strikeOf(ask(id), KEYS.globex)).body.cache?.status).toBe("miss");
    expect((await strikeOf(ask(id), KEYS.acme)).body.cache?.status).toBe("hit");
    expect((await strikeOf(ask(id), KEYS.globex)).body.cache?.status).toBe("hit");
    await deleteCovenant(id, KEYS.acme);
    await deleteCovenant(id, KEYS.globex);
  });

  it("serves an answer no longer than ttl_s", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"], cache: { ttl_s: 1 } });
    await strikeOf(ask(id));
    expect((await strikeOf(ask(id))).body.cache?.status).toBe("hit");
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await strikeOf(ask(id))).body.cache?.status).toBe("miss");
    expect(await billsOf(id)).toHaveLength(2);
    await deleteCovenant(id);
  });

  it("answers a near-duplicate with semantic on, and runs it again without", async () => {
    const messages = (system: string, user: string) => [{ role: "system", content: system }, { role: "user", content: user }];
    const original = messages("Answer in one sentence.", "What is the capital city of Australia, and why was it chosen?");
    const retyped = messages("Answer in one sentence.", "what is the capital city of australia and why was it chosen");
    const body = (covenant: string, m: unknown) => ({ covenant_id: covenant, model: "gemma-2b-it", messages: m, max_tokens: 24, temperature: 0 });

    const on = await createCovenant({ models: ["gemma-2b-it"], cache: { semantic: true } });
    const first = await strikeOf(body(on.id, original));
    const near = await strikeOf(body(on.id, retyped));
    expect(near.header).toBe("semantic");
    expect(near.body.cache).toMatchObject({ status: "semantic", source_strike_id: first.body.id });
    expect(near.body.cache!.similarity).toBeGreaterThanOrEqual(0.9);
    expect(near.body.output.content).toBe(first.body.output.content);
    // The rest of the conversation must match exactly: another instruction is another question.
    const otherSystem = await strikeOf(body(on.id, messages("Answer in French.", "what is the capital city of australia and why was it chosen")));
    expect(otherSystem.body.cache?.status).toBe("miss");
    expect(await billsOf(on.id)).toHaveLength(2);

    const off = await createCovenant({ models: ["gemma-2b-it"] });
    await strikeOf(body(off.id, original));
    expect((await strikeOf(body(off.id, retyped))).body.cache?.status).toBe("miss");
    expect(await billsOf(off.id)).toHaveLength(2);
    await deleteCovenant(on.id);
    await deleteCovenant(off.id);
  });

  it("forgets every answer when the covenant is deleted", async () => {
    const id = freshCovenant("gone");
    await createCovenant({ id, models: ["gemma-2b-it"] });
    await strikeOf(ask(id));
    expect((await strikeOf(ask(id))).body.cache?.status).toBe("hit");
    await deleteCovenant(id);
    await createCovenant({ id, models: ["gemma-2b-it"] });
    expect((await strikeOf(ask(id))).body.cache?.status).toBe("miss");
    await deleteCovenant(id);
  });

  it("never caches agent turns or fused requests", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it", "mistral-7b"] });
    const tools = [{ type: "function", function: { name: "get_time", description: "The time in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
    const turn = { model: "mistral-7b", temperature: 0, max_tokens: 64, messages: [{ role: "user", content: "What time is it in Paris?" }], tools };
    for (let i = 0; i < 2; i++) {
      const res = await call("/v1/chat/completions", { method: "POST", headers: { "x-homeskillet-covenant": id }, body: JSON.stringify(turn) });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-homeskillet-cache")).toBeNull();
      const body = (await res.json()) as { homeskillet: { cache?: unknown; pool_id: string } };
      expect(body.homeskillet.cache).toBeUndefined();
      expect(body.homeskillet.pool_id).not.toBe("cache");
    }
    const fused = { covenant_id: id, prompt: "1. What is a GPU?\n2. What is a CPU?", max_tokens: 16, temperature: 0, fusion: { strategy: "split" } };
    for (let i = 0; i < 2; i++) {
      const { body } = await strikeOf(fused);
      expect(body.pool_id).toBe("fused");
      expect(body.cache).toBeUndefined();
    }
    await deleteCovenant(id);
  });
});

describe("the answer cache on the OpenAI API", () => {
  const chat = (covenant: string, extra: Record<string, unknown> = {}) =>
    call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": covenant },
      body: JSON.stringify({ model: "gemma-2b-it", temperature: 0, max_tokens: 40, messages: [{ role: "user", content: "Describe a GPU pool." }], ...extra }),
    });

  async function sse(res: Response): Promise<{ data: string[]; chunks: Record<string, any>[] }> {
    const data = (await res.text())
      .split("\n\n")
      .filter((b) => b.startsWith("data: "))
      .map((b) => b.slice(6));
    return { data, chunks: data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d)) };
  }

  it("shows a hit in the header and in homeskillet's extras", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const miss = await chat(id);
    expect(miss.headers.get("x-homeskillet-cache")).toBe("miss");
    const first = ChatCompletion.parse(await miss.json());
    const hit = await chat(id);
    expect(hit.headers.get("x-homeskillet-cache")).toBe("hit");
    expect(hit.headers.get("x-homeskillet-cost-usd")).toBe("0");
    const body = ChatCompletion.parse(await hit.json());
    expect(body.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    expect(body.homeskillet).toMatchObject({ pool_id: "cache", cost_usd: 0, cache: { status: "hit", source_strike_id: first.homeskillet.strike_id } });
    expect(body.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    await deleteCovenant(id);
  });

  it("serves a hit to a streaming client as a stream, and keeps a streamed answer for later", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    // A streamed miss: tokens as they come, its answer kept.
    const streamedMiss = await chat(id, { stream: true, stream_options: { include_usage: true } });
    expect(streamedMiss.status).toBe(200);
    expect(streamedMiss.headers.get("x-homeskillet-cache")).toBe("miss");
    const missed = await sse(streamedMiss);
    const text = missed.chunks.flatMap((c) => c.choices.map((ch: any) => ch.delta.content ?? "")).join("");
    expect(text.length).toBeGreaterThan(0);
    expect(missed.chunks.find((c) => c.choices[0]?.finish_reason)!.homeskillet.cache).toEqual({ status: "miss" });

    // The same request whole: the streamed answer, from the cache.
    const whole = ChatCompletion.parse(await (await chat(id)).json());
    expect(whole.homeskillet.cache?.status).toBe("hit");
    expect(whole.choices[0]!.message.content).toBe(text);

    // And streamed: a stream like any other — role, content deltas, a final chunk, usage, [DONE].
    const streamedHit = await chat(id, { stream: true, stream_options: { include_usage: true } });
    expect(streamedHit.status).toBe(200);
    expect(streamedHit.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(streamedHit.headers.get("x-homeskillet-cache")).toBe("hit");
    const hit = await sse(streamedHit);
    expect(hit.data.at(-1)).toBe("[DONE]");
    expect(hit.chunks.every((c) => c.object === "chat.completion.chunk" && c.id === hit.chunks[0]!.id)).toBe(true);
    expect(hit.chunks[0]!.choices[0].delta).toEqual({ role: "assistant", content: "" });
    const deltas = hit.chunks.filter((c) => c.choices[0]?.delta?.content);
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((c) => c.choices[0].delta.content).join("")).toBe(text);
    expect(hit.chunks.some((c) => c.homeskillet?.fusion_progress)).toBe(false);
    const final = hit.chunks.find((c) => c.choices[0]?.finish_reason)!;
    expect(final.choices[0].finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(final.homeskillet).toMatchObject({ pool_id: "cache", cost_usd: 0, cache: { status: "hit" } });
    expect(hit.chunks.at(-1)!.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    expect(await billsOf(id)).toHaveLength(1);
    await deleteCovenant(id);
  });
});

// ---------------------------------------------------------------------------------------------
// the store and the rules, without the upstream

function freshObject() {
  return env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName("dev", `answers-${crypto.randomUUID()}`)));
}

const contract = (cache: Partial<CovenantContract["cache"]> = {}): CovenantContract => {
  const c = defaultContract("c", modelCatalogue(), new Date(0).toISOString());
  return { ...c, cache: { ...c.cache, ...cache } };
};

const input = (over: Partial<StrikeInput> = {}): StrikeInput => ({
  strikeId: "str_1",
  tenant: "acme",
  covenantId: "c",
  promptText: "user: What is a vGPU?",
  promptTokens: 6,
  maxTokens: 16,
  temperature: 0,
  latencySensitive: false,
  ...over,
});

const answer = (text: string, createdAt: number): CachedAnswer => ({
  text,
  finishReason: "stop",
  model: "mistral-7b",
  usage: { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 },
  costUsd: 0.0001,
  strikeId: "str_0",
  createdAt,
});

describe("the answer cache's rules", () => {
  it("looks up only what the covenant allows", () => {
    expect(cacheVerdict(contract(), input(), false).use).toBe(true);
    expect(cacheVerdict(contract(), input({ temperature: 0.2 }), false).use).toBe(false);
    expect(cacheVerdict(contract({ mode: "always" }), input({ temperature: 0.2 }), false).use).toBe(true);
    expect(cacheVerdict(contract({ mode: "off" }), input(), false).use).toBe(false);
    expect(cacheVerdict(contract({ mode: "always" }), input(), true).use).toBe(false);
    expect(cacheVerdict(contract({ mode: "always" }), input({ fusion: { strategy: "split" } }), false).use).toBe(false);
    const turn = { messages: [], tools: [], toolChoice: "auto", parallelToolCalls: true, responseFormat: { type: "json_object" } } as unknown as StrikeInput["turn"];
    expect(cacheVerdict(contract({ mode: "always" }), input({ turn }), false).use).toBe(false);
  });

  it("keys on everything that shapes the answer, and compares only the last user turn loosely", async () => {
    const base = await answerIdentity(input(), "mistral-7b");
    for (const other of [
      await answerIdentity(input(), "gemma-2b-it"),
      await answerIdentity(input({ maxTokens: 17 }), "mistral-7b"),
      await answerIdentity(input({ temperature: 0.5 }), "mistral-7b"),
      await answerIdentity(input({ seed: 3 }), "mistral-7b"),
      await answerIdentity(input({ covenantId: "d" }), "mistral-7b"),
      await answerIdentity(input({ promptText: "user: What is a vGPU? " }), "mistral-7b"),
    ]) {
      expect(other.hash).not.toBe(base.hash);
    }
    expect((await answerIdentity(input(), "mistral-7b")).hash).toBe(base.hash);
    expect(splitLastTurn("system: be brief\nuser: hi\nassistant: hello\nuser: what now?")).toEqual({ context: "system: be brief\nuser: hi\nassistant: hello\n", turn: "what now?" });
    expect(splitLastTurn("user: hi")).toEqual({ context: "", turn: "hi" });
    expect(splitLastTurn("just a prompt")).toEqual({ context: "", turn: "just a prompt" });
    const a = await answerIdentity(input({ promptText: "system: be brief\nuser: What is a vGPU?" }), "mistral-7b");
    const b = await answerIdentity(input({ promptText: "system: be long\nuser: What is a vGPU?" }), "mistral-7b");
    expect(a.scope).not.toBe(b.scope);
    expect(a.loose).toBe(b.loose);
  });

  it("streams an answer word by word, losing nothing", () => {
    const text = "  A GPU pool  holds\nslices.\t End ";
    const pieces = streamPieces(text);
    expect(pieces.join("")).toBe(text);
    expect(pieces).toEqual(["  ", "A ", "GPU ", "pool  ", "holds\n", "slices.\t ", "End "]);
    expect(streamPieces("")).toEqual([]);
    expect(streamPieces("one")).toEqual(["one"]);
  });
});

describe("the answer cache's store", () => {
  it("never serves one tenant's answer to another", async () => {
    await runInDurableObject(freshObject(), async (_obj, state) => {
      const cache = new AnswerCache(state.storage.sql, () => 1_000);
      const settings = contract({ semantic: true }).cache;
      const id = await answerIdentity(input(), "mistral-7b");
      cache.store("acme", id, answer("acme's", 1_000), settings);
      expect(cache.lookup("globex", id, settings)).toBeUndefined();
      expect(cache.lookup("acme", id, settings)?.answer.text).toBe("acme's");
    });
  });

  it("expires answers at ttl_s — the covenant's current setting — and keeps at most max_entries", async () => {
    await runInDurableObject(freshObject(), async (_obj, state) => {
      const clock = { t: 1_000_000 };
      const cache = new AnswerCache(state.storage.sql, () => clock.t);
      const settings = contract({ ttl_s: 10, max_entries: 2 }).cache;
      const ids = await Promise.all(["a", "b", "c"].map((p) => answerIdentity(input({ promptText: p }), "mistral-7b")));
      cache.store("acme", ids[0]!, answer("a", clock.t), settings);
      clock.t += 9_999;
      expect(cache.lookup("acme", ids[0]!, settings)?.status).toBe("hit");
      // A shorter TTL set since applies at once.
      expect(cache.lookup("acme", ids[0]!, { ...settings, ttl_s: 5 })).toBeUndefined();
      clock.t += 1;
      expect(cache.lookup("acme", ids[0]!, settings)).toBeUndefined();
      for (const [i, id] of ids.entries()) cache.store("acme", id, answer(String(i), clock.t), settings);
      expect(cache.size.exact).toBe(2);
      expect(cache.lookup("acme", ids[0]!, settings)).toBeUndefined();
      expect(cache.lookup("acme", ids[2]!, settings)?.answer.text).toBe("2");
      cache.forget();
      expect(cache.size).toEqual({ exact: 0, semantic: 0 });
    });
  });

  it("finds a near-duplicate only with semantic on, at the threshold", async () => {
    await runInDurableObject(freshObject(), async (_obj, state) => {
      const cache = new AnswerCache(state.storage.sql, () => 1_000);
      const on = contract({ semantic: true, semantic_threshold: 0.9 }).cache;
      const original = await answerIdentity(input({ promptText: "user: How many GPUs does a standard pool hold?" }), "mistral-7b");
      const retyped = await answerIdentity(input({ promptText: "user: how many gpus does a standard pool hold" }), "mistral-7b");
      const other = await answerIdentity(input({ promptText: "user: How many CPUs does a premium pool hold?" }), "mistral-7b");
      cache.store("acme", original, answer("eight", 1_000), on);
      expect(cache.lookup("acme", retyped, on)).toMatchObject({ status: "semantic", answer: { text: "eight" } });
      expect(cache.lookup("acme", retyped, { ...on, semantic: false })).toBeUndefined();
      expect(cache.lookup("acme", other, on)).toBeUndefined();
      expect(cache.lookup("globex", retyped, on)).toBeUndefined();
    });
  });
});
