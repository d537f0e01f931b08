import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkDocument, draftPlan, estimatorFromPrices, findSubTasks, planFusion, planView, resolveFusionPolicy, type FusionRequest, type PlanContext } from "../src/fusion";
import { defaultContract, modelCatalogue } from "../src/policy";
import { FusionOptions, FusionPolicy as FusionPolicySchema, FusionPlanView, type Classification, type CovenantContract, type FusionPolicy, type TaskLabel } from "../src/schema";
import data from "./fixtures/fusion-prompts.json";

const catalogue = modelCatalogue();
const PRICES: Record<string, number> = { "gemma-2b-it": 0.05, "mistral-7b": 0.14, "qwen-14b": 0.86, "qwen-32b": 1.96, "qwen-70b": 6.5 };
const ROUTES: Record<TaskLabel, string> = { coding: "qwen-14b", math: "qwen-32b", reasoning: "qwen-32b", extraction: "mistral-7b", writing: "mistral-7b", roleplay: "gemma-2b-it", knowledge: "mistral-7b" };

/** A keyword stand-in for the WASM classifier: the planner only needs a deterministic function. */
function classify(text: string): Classification {
  const label: TaskLabel = /\b(?:function|script|component|python|javascript|react|code)\b/i.test(text)
    ? "coding"
    : /\d.*\b(?:how many|how much|how old|calculate|total)\b|\$/i.test(text)
      ? "math"
      : /^(?:can|would|has|is|did)\b/i.test(text.trim())
        ? "reasoning"
        : /\bwrite\b/i.test(text)
          ? "writing"
          : "knowledge";
  const probabilities = { coding: 0, math: 0, reasoning: 0, extraction: 0, writing: 0, roleplay: 0, knowledge: 0, [label]: 1 };
  return { label, probabilities, complexity: Math.min(1, text.length / 2000), prompt_tokens: Math.ceil(new TextEncoder().encode(text).byteLength / 4), output_tokens: 120, latency_class: "standard", classifier: "test-keywords" };
}

function context(over: { covenant?: Partial<CovenantContract>; policy?: FusionPolicy; calls?: { classify: string[]; estimate: number } } = {}): PlanContext {
  const covenant = { ...defaultContract("default", catalogue, "2026-01-01T00:00:00.000Z"), ...over.covenant };
  const calls = over.calls;
  const estimate = estimatorFromPrices(catalogue, (m) => PRICES[m]!);
  return {
    covenant,
    policy: resolveFusionPolicy(over.policy),
    catalogue,
    classify: (text) => (calls?.classify.push(text), classify(text)),
    route: (c) => (covenant.models.includes(ROUTES[c.label]) ? ROUTES[c.label] : covenant.default_model),
    estimate: (q) => (calls && calls.estimate++, estimate(q)),
  };
}

const req = (prompt: string, over: Partial<FusionRequest> = {}): FusionRequest => ({ prompt, max_tokens: 256, temperature: 0.7, ...over });
const q = data.questions;
const multiPart = `Please answer each of the following:\n1. ${q.knowledge[0]!.text}\n2. ${q.math[0]!.text}\n3. ${q.coding[0]!.text}\n\nKeep every answer short.`;
const passages = data.passages.map((p) => p.text);
const question = data.passages[5]!.question;
const longDoc = `Read the document below and answer this question: ${question}\n\n${passages.join("\n\n")}\n\nAnswer:`;

async function plan(r: FusionRequest, ctx = context(), over: Partial<Classification> = {}) {
  const result = await planFusion(r, { ...classify(r.prompt ?? ""), ...over }, ctx);
  if (!result.ok) throw new Error(`plan refused: ${result.error.message}`);
  return result.plan;
}

describe("split plans", () => {
  it("gives each sub-task of a real multi-question prompt its own fragment, classified and routed on its own", async () => {
    const calls = { classify: [] as string[], estimate: 0 };
    const p = await plan(req(multiPart), context({ calls }));
    expect(p.strategy).toBe("split");
    expect(p.fragments.map((f) => [f.role, f.label, f.model])).toEqual([
      ["part", "knowledge", "mistral-7b"],
      ["part", "math", "qwen-32b"],
      ["part", "coding", "qwen-14b"],
    ]);
    expect(calls.classify).toHaveLength(3);
    p.fragments.forEach((f, i) => {
      expect(f.input).toBe(`Please answer each of the following:\n\n${[q.knowledge[0]!, q.math[0]!, q.coding[0]!][i]!.text}\n\nKeep every answer short.`);
      expect(calls.classify[i]).toBe(f.input);
      expect(f.prompt).toBe(f.input);
      expect(f.max_tokens).toBe(85);
    });
    expect(p.fuse).toEqual({ kind: "concat" });
    expect(p.price_usd).toBeCloseTo(p.fragments.reduce((s, f) => s + f.estimate_usd!, 0), 12);
  });

  it("splits tasks joined by \"also\", and sends chat requests as user turns under the system prompt", async () => {
    const text = `${q.writing[1]!.text} Also, ${q.coding[2]!.text.charAt(0).toLowerCase()}${q.coding[2]!.text.slice(1)}`;
    const r: FusionRequest = { messages: [{ role: "system", content: "Be concise." }, { role: "user", content: text }], max_tokens: 200, temperature: 0 };
    const p = await plan(r);
    expect(p.strategy).toBe("split");
    expect(p.fragments.map((f) => f.input)).toEqual([q.writing[1]!.text, q.coding[2]!.text]);
    expect(p.fragments[1]!.prompt).toBe(`system: Be concise.\nuser: ${q.coding[2]!.text}`);
    expect(p.fragments.every((f) => f.system === "Be concise.")).toBe(true);
  });

  it("keeps real one-task prompts whole: answer options, specifications, a passage with comments, a constraint", async () => {
    for (const item of data.one_task) {
      expect(findSubTasks(item.text), item.text.slice(0, 60)).toBeNull();
      expect((await plan(req(item.text))).strategy).toBe("single");
    }
  });

  it("never splits steps of one procedure or items that lean on each other", () => {
    expect(findSubTasks("Follow these steps:\n1. Write a function that parses a CSV file.\n2. Write a test for the parser.")).toBeNull();
    expect(findSubTasks("1. What is the boiling point of water?\n2. Explain why it changes with altitude.")).toBeNull();
    expect(findSubTasks("1. Translate this sentence into French.\n2. Then explain the grammar of the above.")).toBeNull();
  });

  it("groups sub-tasks into at most max_fragments parts, sharing out max_tokens", async () => {
    const items = [...q.knowledge, ...q.reasoning].map((x) => x.text);
    const prompt = `Answer these questions:\n${items.map((t, i) => `${i + 1}. ${t}`).join("\n")}`;
    const p = await plan(req(prompt, { fusion: { max_fragments: 3 } }));
    expect(p.fragments).toHaveLength(3);
    expect(p.fragments.map((f) => f.max_tokens)).toEqual([3 * 36, 2 * 36, 2 * 36]);
    expect(p.fragments[0]!.input).toContain(`1. ${items[0]}\n2. ${items[1]}\n3. ${items[2]}`);
    expect(p.fragments[0]!.title).toMatch(/\(\+2 more\)$/);
  });
});

describe("map-reduce plans", () => {
  const policy = { map_reduce_min_tokens: 2_000, chunk_tokens: 600, max_fragments: 16 };

  it("chunks a long document of real passages on paragraph boundaries, maps on a small model and reduces on a larger one", async () => {
    const p = await plan(req(longDoc), context({ policy }), { label: "extraction" });
    expect(p.strategy).toBe("map_reduce");
    expect(p.reason).toMatch(/map-reduce threshold of 2000/);
    const spans = p.fragments.map((f) => f.span!);
    for (const [i, f] of p.fragments.entries()) {
      expect(f.role).toBe("map");
      expect(f.model).toBe("gemma-2b-it");
      expect(f.temperature).toBe(0);
      expect(f.input).toContain(`This is part ${i + 1} of ${p.fragments.length} of a longer document`);
      expect(f.input).toContain(question);
      expect(f.input.endsWith(longDoc.slice(f.span!.start, f.span!.end))).toBe(true);
      expect(Math.ceil(new TextEncoder().encode(longDoc.slice(f.span!.start, f.span!.end)).byteLength / 4)).toBeLessThanOrEqual(600);
    }
    // Consecutive chunks meet at paragraph breaks, and together they cover every passage.
    for (let i = 1; i < spans.length; i++) expect(longDoc.slice(spans[i - 1]!.end, spans[i]!.start)).toBe("\n\n");
    expect(longDoc.slice(spans[0]!.start, spans.at(-1)!.end)).toBe(passages.join("\n\n"));
    expect(p.fuse).toMatchObject({ kind: "reduce", model: "mistral-7b", max_tokens: 256 });
    expect(p.fuse.kind === "reduce" && p.fuse.task).toBe(`Read the document below and answer this question: ${question}\n\nAnswer:`);
  });

  it("map-reduces below the threshold when the prompt does not fit the routed model's context", async () => {
    const covenant = { models: ["gemma-2b-it"], default_model: "gemma-2b-it" };
    const doc = `Summarise the following articles:\n\n${[...passages, ...passages].join("\n\n")}`;
    const p = await plan(req(doc), context({ covenant, policy: { map_reduce_min_tokens: 100_000 } }));
    expect(p.strategy).toBe("map_reduce");
    expect(p.reason).toMatch(/do not fit gemma-2b-it's context of 8192/);
  });

  it("ignores a map model the covenant no longer allows instead of failing every request", async () => {
    const ctx = context({ covenant: { models: ["gemma-2b-it", "mistral-7b"] }, policy: { ...policy, map_model: "qwen-14b" } });
    const p = await plan(req(longDoc), ctx, { label: "extraction" });
    expect(p.fragments.every((f) => f.model === "gemma-2b-it")).toBe(true);
    expect((await plan(req(longDoc), context({ policy: { ...policy, map_model: "qwen-14b" } }), { label: "extraction" })).fragments[0]!.model).toBe("qwen-14b");
  });

  it("cuts a paragraph too big for a chunk between sentences", () => {
    const paragraph = passages.slice(0, 6).join(" ");
    const chunks = chunkDocument(paragraph, 200);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks.slice(0, -1)) expect(c.text).toMatch(/[.!?]["')\]]*$/);
    expect(chunks.map((c) => c.text).join(" ")).toBe(paragraph);
  });

  it("runs a short document whole even when map-reduce is asked for, and says why", async () => {
    const p = await plan(req(data.extraction_items[0]!.text, { fusion: { strategy: "map_reduce" } }));
    expect(p).toMatchObject({ strategy: "single", requested: "map_reduce" });
    expect(p.reason).toMatch(/fits one chunk/);
  });
});

describe("ensemble plans", () => {
  it("votes on short answers and lists the routed model first", async () => {
    const text = q.reasoning[0]!.text;
    const p = await plan(req(text, { fusion: { strategy: "ensemble" } }), context());
    const short = { ...classify(text), output_tokens: 8 };
    const voted = await planFusion(req(text, { fusion: { strategy: "ensemble" } }), short, context());
    expect(voted.ok && voted.plan.fuse).toEqual({ kind: "vote", order: ["e1", "e2", "e3"] });
    // The routed model, then the others nearest it in size (70/32 is nearer than 32/14).
    expect(voted.ok && voted.plan.fragments.map((f) => f.model)).toEqual(["qwen-32b", "qwen-70b", "qwen-14b"]);
    expect(p.fuse).toMatchObject({ kind: "judge", model: "qwen-70b" });
    expect(p.fragments.every((f) => f.prompt === text && f.role === "member")).toBe(true);
  });

  it("runs an ensemble automatically only for the labels the covenant names", async () => {
    const text = q.writing[0]!.text;
    expect((await plan(req(text))).strategy).toBe("single");
    const p = await plan(req(text), context({ policy: { ensemble_labels: ["writing"], ensemble_min_complexity: 0 } }));
    expect(p.strategy).toBe("ensemble");
    expect(p.fuse.kind).toBe("judge");
  });

  it("refuses ensemble members the covenant does not allow, naming the field", async () => {
    const r = await planFusion(req("Is the sky blue?", { fusion: { strategy: "ensemble", ensemble_models: ["mistral-7b", "qwen-70b"] } }), classify("x"), context({ covenant: { models: ["gemma-2b-it", "mistral-7b"] } }));
    expect(r).toMatchObject({ ok: false, status: 400, error: { type: "model_not_allowed", param: "fusion.ensemble_models.1" } });
  });
});

describe("single plans", () => {
  it("does no extra work: no classify, no pricing, the request's own prompt string", async () => {
    const calls = { classify: [] as string[], estimate: 0 };
    const prompt = q.knowledge[1]!.text;
    const draft = draftPlan(req(prompt), classify(prompt), context({ calls }));
    expect(draft.ok).toBe(true);
    if (!draft.ok) return;
    expect(draft.plan.strategy).toBe("single");
    expect(draft.plan.fragments).toHaveLength(1);
    expect(draft.plan.fragments[0]!.prompt).toBe(prompt);
    expect(draft.plan.price_usd).toBeNull();
    expect(calls).toEqual({ classify: [], estimate: 0 });
  });

  it("keeps conversations with earlier turns whole", async () => {
    const r: FusionRequest = { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }, { role: "user", content: multiPart }], max_tokens: 64, temperature: 0 };
    const p = await plan(r);
    expect(p.strategy).toBe("single");
    expect(p.fragments[0]!.prompt).toBe(`user: Hi\nassistant: Hello!\nuser: ${multiPart}`);
  });

  it("honours a covenant that turns decomposition off", async () => {
    expect((await plan(req(multiPart), context({ policy: { auto: false } }))).strategy).toBe("single");
  });
});

describe("plans are data", () => {
  it("are deterministic for the same input, and survive JSON unchanged", async () => {
    const texts = [...Object.values(q).flat().map((x) => x.text), ...passages.slice(0, 8)];
    const arbRequest = fc.record({
      items: fc.array(fc.constantFrom(...texts), { minLength: 1, maxLength: 5 }),
      marker: fc.constantFrom("1.", "-", "*"),
      strategy: fc.constantFrom("auto" as const, "single" as const, "split" as const, "ensemble" as const, "map_reduce" as const),
      maxTokens: fc.integer({ min: 16, max: 2048 }),
      temperature: fc.constantFrom(0, 0.7, 1.3),
      limit: fc.option(fc.double({ min: 0.00001, max: 0.05, noNaN: true }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(arbRequest, async (a) => {
        const prompt = `Answer the following:\n${a.items.map((t, i) => `${a.marker === "1." ? `${i + 1}.` : a.marker} ${t.replace(/\n+/g, " ")}`).join("\n")}`;
        const r = req(prompt, { max_tokens: a.maxTokens, temperature: a.temperature, fusion: { strategy: a.strategy } });
        const ctx = () => context({ covenant: { cost: { on_limit: "reject", pricier_fallback: true, ...(a.limit !== undefined ? { max_usd_per_strike: a.limit } : {}) } }, policy: { map_reduce_min_tokens: 512, chunk_tokens: 256 } });
        const one = await planFusion(r, classify(prompt), ctx());
        const two = await planFusion(structuredClone(r), classify(prompt), ctx());
        expect(two).toEqual(one);
        expect(JSON.parse(JSON.stringify(one))).toEqual(one);
        if (one.ok) expect(FusionPlanView.parse(planView(one.plan))).toEqual(planView(one.plan));
      }),
      { numRuns: 60 },
    );
  });
});

describe("plan pricing and the per-strike limit", () => {
  const limited = (limit: number, policy: FusionPolicy = {}) => context({ covenant: { cost: { on_limit: "reject", pricier_fallback: true, max_usd_per_strike: limit } }, policy });
  const priceOf = async (r: FusionRequest, ctx = context(), over: Partial<Classification> = {}) => (await plan(r, ctx, over)).price_usd!;

  it("merges split parts until the plan fits, cheapest merge first", async () => {
    const full = await priceOf(req(multiPart));
    const p = await plan(req(multiPart), limited(full * 0.7));
    expect(p.strategy).toBe("split");
    expect(p.fragments.length).toBeLessThan(3);
    expect(p.reductions[0]).toMatch(/^merged parts \d and \d into one on /);
    expect(p.price_usd!).toBeLessThanOrEqual(full * 0.7);
    expect(p.limit_usd).toBe(full * 0.7);
  });

  it("refuses a requested plan it cannot bring under the limit, naming the limit and the price", async () => {
    const r = await planFusion(req(multiPart, { fusion: { strategy: "split" } }), classify(multiPart), limited(0.000001));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(402);
    expect(r.error).toMatchObject({ type: "plan_cost_limit", budget: "max_usd_per_strike", limit_usd: 0.000001 });
    expect(r.error.requested_usd!).toBeGreaterThan(0.000001);
    expect(r.error.message).toContain("over the covenant's max_usd_per_strike of $0.000001");
    expect(r.error.message).toContain(`$${r.error.requested_usd!.toFixed(6)}`);
    expect(r.error.message).toMatch(/even after reducing it \(merged parts/);
  });

  it("runs an automatic plan whole rather than refuse it", async () => {
    const p = await plan(req(multiPart), limited(0.000001));
    expect(p.strategy).toBe("single");
    expect(p.reason).toMatch(/^auto: the split plan .* over the covenant's max_usd_per_strike .*; running whole instead$/);
  });

  it("drops the costliest ensemble members it chose, but never members the client named", async () => {
    const text = q.writing[0]!.text;
    const chosen = req(text, { fusion: { strategy: "ensemble" } });
    const full = await priceOf(chosen);
    const p = await plan(chosen, limited(full * 0.6));
    expect(p.price_usd!).toBeLessThanOrEqual(full * 0.6);
    // The members were mistral-7b (routed), gemma-2b-it and qwen-14b, judged by the largest model.
    expect(p.reductions[0]).toBe("dropped ensemble member qwen-14b");
    expect(p.reductions.slice(1).every((r) => /^judge moved from qwen-70b to /.test(r))).toBe(true);
    expect(p.fragments.map((f) => f.model)).toEqual(["mistral-7b", "gemma-2b-it"]);
    const named = req(text, { fusion: { strategy: "ensemble", ensemble_models: ["mistral-7b", "qwen-32b", "qwen-70b"] } });
    const refused = await planFusion(named, classify(text), limited(full * 0.6));
    expect(refused).toMatchObject({ ok: false, status: 402, error: { type: "plan_cost_limit" } });
  });

  it("moves map steps to a smaller model, then shortens notes, then refuses", async () => {
    const policy: FusionPolicy = { map_reduce_min_tokens: 2_000, chunk_tokens: 600, max_fragments: 16, map_model: "qwen-14b" };
    const r = req(longDoc, { fusion: { strategy: "map_reduce" } });
    const extraction = { label: "extraction" as const };
    const onBig = await priceOf(r, context({ policy }), extraction);
    const onSmall = await priceOf(r, context({ policy: { ...policy, map_model: "gemma-2b-it" } }), extraction);
    const moved = await plan(r, limited((onBig + onSmall) / 2, policy), extraction);
    expect(moved.fragments.every((f) => f.model === "gemma-2b-it")).toBe(true);
    expect(moved.reductions).toEqual(["map steps moved from qwen-14b to gemma-2b-it"]);
    const cut = await plan(r, limited(onSmall * 0.9, policy), extraction);
    expect(cut.reductions).toContain("notes per part cut to 128 tokens");
    expect(cut.fragments[0]!.max_tokens).toBeLessThan(256);
    const refused = await planFusion(r, { ...classify(longDoc), ...extraction }, limited(onSmall * 0.01, policy));
    expect(refused).toMatchObject({ ok: false, status: 402, error: { budget: "max_usd_per_strike" } });
  });
});

describe("the request extension and the covenant's fusion policy", () => {
  it("accept what the planner reads and refuse the rest, naming the field", () => {
    expect(FusionOptions.parse({ strategy: "ensemble", ensemble_models: ["mistral-7b", "qwen-14b"], ensemble_fuse: "vote", tolerate_gaps: false })).toMatchObject({ strategy: "ensemble" });
    const refused = (body: unknown) => FusionOptions.safeParse(body).error?.issues[0]?.path.join(".");
    expect(refused({ strategy: "parallel" })).toBe("strategy");
    expect(refused({ ensemble_models: ["mistral-7b", "mistral-7b"] })).toBe("ensemble_models");
    expect(refused({ ensemble_models: ["mistral-7b"] })).toBe("ensemble_models");
    expect(refused({ chunk_tokens: 10 })).toBe("chunk_tokens");
    expect(refused({ stratgey: "split" })).toBe("");
    expect(FusionPolicySchema.safeParse({ semantic_cache: true, semantic_threshold: 0.2 }).success).toBe(false);
    expect(resolveFusionPolicy(FusionPolicySchema.parse({ semantic_cache: true }))).toMatchObject({ semantic_cache: true, semantic_threshold: 0.9, cache_ttl_s: 300 });
  });
});
