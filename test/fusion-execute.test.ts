import { describe, expect, it } from "vitest";
import {
  concatWithHeadings,
  estimatorFromPrices,
  executePlan,
  majorityVote,
  missingPartsNote,
  normaliseAnswer,
  planFusion,
  resolveFusionPolicy,
  ResultCache,
  SemanticCache,
  SingleFlight,
  type ExecuteDeps,
  type Fragment,
  type FragmentResult,
  type FragmentSuccess,
  type FusionPlan,
  type FusionRequest,
} from "../src/fusion";
import { defaultContract, modelCatalogue } from "../src/policy";
import { FusionReport, type Classification, type FusionPolicy, type FusionProgress, type TaskLabel } from "../src/schema";
import data from "./fixtures/fusion-prompts.json";

const catalogue = modelCatalogue();
const ROUTES: Record<TaskLabel, string> = { coding: "qwen-14b", math: "qwen-32b", reasoning: "qwen-32b", extraction: "mistral-7b", writing: "mistral-7b", roleplay: "gemma-2b-it", knowledge: "mistral-7b" };

function classification(label: TaskLabel, text: string, outputTokens = 120): Classification {
  return { label, probabilities: { coding: 0, math: 0, reasoning: 0, extraction: 0, writing: 0, roleplay: 0, knowledge: 0, [label]: 1 }, complexity: 0.4, prompt_tokens: Math.ceil(text.length / 4), output_tokens: outputTokens, latency_class: "standard", classifier: "test" };
}

async function planOf(r: FusionRequest, label: TaskLabel = "knowledge", policy: FusionPolicy = {}, outputTokens = 120): Promise<FusionPlan> {
  const ctx = {
    covenant: defaultContract("default", catalogue, "2026-01-01T00:00:00.000Z"),
    policy: resolveFusionPolicy(policy),
    catalogue,
    classify: (t: string) => classification(label, t),
    route: (c: Classification) => ROUTES[c.label],
    estimate: estimatorFromPrices(catalogue, () => 1),
  };
  const result = await planFusion(r, classification(label, r.prompt ?? "", outputTokens), ctx);
  if (!result.ok) throw new Error(result.error.message);
  return result.plan;
}

const answer = (f: Fragment, text: string, over: Partial<FragmentSuccess> = {}): FragmentResult => ({
  ok: true,
  text,
  model: f.model,
  pool_id: "standard-us-east",
  allocation_id: `alloc_${f.id}`,
  usage: { prompt_tokens: f.prompt_tokens, completion_tokens: text.split(" ").length },
  cost_usd: 0.001,
  finish_reason: "stop",
  ...over,
});
const failure = (status: number, message: string): FragmentResult => ({ ok: false, status, error: { type: "upstream_error", message } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deps(run: ExecuteDeps["runFragment"], over: Partial<ExecuteDeps> = {}): ExecuteDeps & { events: FusionProgress[]; calls: Fragment[] } {
  const events: FusionProgress[] = [];
  const calls: Fragment[] = [];
  return { tenant: "acme", now: () => Date.now(), onProgress: (e) => events.push(e), runFragment: (f, s) => (calls.push(f), run(f, s)), events, calls, ...over };
}

const q = data.questions;
const items = [q.knowledge[0]!, q.math[0]!, q.coding[0]!, q.reasoning[0]!, q.knowledge[1]!].map((x) => x.text);
const multiPart = `Answer each question:\n${items.map((t, i) => `${i + 1}. ${t}`).join("\n")}`;
const longDoc = `Summarise the following document:\n\n${data.passages.map((p) => p.text).join("\n\n")}`;
const mapPolicy: FusionPolicy = { map_reduce_min_tokens: 2_000, chunk_tokens: 1_200 };

describe("single", () => {
  it("does no extra work: one call with the request's own prompt, the answer passed through untouched", async () => {
    const prompt = q.writing[0]!.text;
    const plan = await planOf({ prompt, max_tokens: 64, temperature: 0.7 }, "writing");
    const text = "A rap about the president, with no letter q in sight.";
    const d = deps(async (f) => answer(f, text));
    const out = await executePlan(plan, d);
    expect(d.calls).toHaveLength(1);
    expect(d.calls[0]!.prompt).toBe(prompt);
    expect(out.ok && out.content).toBe(text);
    expect(d.events.map((e) => e.type)).toEqual(["fragment_started", "fragment_finished"]);
    expect(out.report.fused_by).toEqual({ kind: "none", model: "mistral-7b" });
  });

  it("passes a strike's failure on as it came, status included", async () => {
    const plan = await planOf({ prompt: "What is a vGPU?", max_tokens: 64, temperature: 0 });
    const out = await executePlan(plan, deps(async () => ({ ok: false, status: 402, error: { type: "budget_exhausted", message: "daily budget of $1 would be passed" } })));
    expect(out).toMatchObject({ ok: false, status: 402, error: { type: "budget_exhausted", message: "daily budget of $1 would be passed" } });
  });
});

describe("split", () => {
  it("runs parts at most `concurrency` at a time and joins the answers under headings, in order", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 }, "knowledge", { max_concurrency: 2 });
    expect(plan.fragments).toHaveLength(5);
    let inFlight = 0;
    let peak = 0;
    const d = deps(async (f) => {
      peak = Math.max(peak, ++inFlight);
      await sleep(5 + 3 * Number(f.id.slice(1)));
      inFlight--;
      return answer(f, `answer to ${f.id}`);
    });
    const out = await executePlan(plan, d);
    expect(peak).toBe(2);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.content.split("\n\n").filter((l) => l.startsWith("## "))).toEqual(plan.fragments.map((f, i) => `## ${i + 1}. ${f.title}`));
    expect(out.content).toMatch(/## 1\. [^\n]+\n\nanswer to f1\n\n## 2\./);
    const report = FusionReport.parse(out.report);
    expect(report.fragments.map((f) => [f.model, f.pool_id, f.allocation_id, f.cache, f.status])).toEqual(plan.fragments.map((f) => [f.model, "standard-us-east", `alloc_${f.id}`, "miss", "ok"]));
    expect(report.totals).toMatchObject({ fragments: 5, ok: 5, failed: 0, cache_hits: 0, cost_usd: 0.005 });
    expect(report.totals.serial_ms).toBeGreaterThanOrEqual(report.totals.wall_ms);
    expect(d.events.filter((e) => e.type === "fragment_finished").map((e) => e.type === "fragment_finished" && e.done)).toEqual([1, 2, 3, 4, 5]);
  });

  it("says which part is missing when a part fails and gaps are tolerated", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const out = await executePlan(plan, deps(async (f) => (f.id === "f2" ? failure(503, "no capacity in any pool") : answer(f, `answer to ${f.id}`))));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.content).toContain(`## 2. ${plan.fragments[1]!.title}\n\n_Missing: this part could not be answered (no capacity in any pool)._`);
    expect(out.content).toContain("answer to f5");
    expect(out.report.gaps).toEqual([{ fragment_id: "f2", title: plan.fragments[1]!.title, reason: "upstream_error: no capacity in any pool" }]);
  });

  it("fails the whole request, and stops the other parts, when gaps are not tolerated", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7, fusion: { tolerate_gaps: false } }, "knowledge", { max_concurrency: 2 });
    const aborted: string[] = [];
    const d = deps(async (f, signal) => {
      if (f.id === "f1") return failure(503, "no capacity");
      await new Promise((_, reject) => signal.addEventListener("abort", () => (aborted.push(f.id), reject(signal.reason))));
      return answer(f, "never");
    });
    const out = await executePlan(plan, d);
    expect(out).toMatchObject({ ok: false, status: 503, error: { type: "fusion_incomplete" } });
    expect(!out.ok && out.error.message).toMatch(/fragment f1 .* failed — no capacity — and this plan does not tolerate gaps/);
    expect(aborted).toEqual(["f2"]);
    expect(d.calls.map((f) => f.id)).toEqual(["f1", "f2"]);
    expect(out.report.fragments.map((f) => f.status)).toEqual(["failed", "failed", "skipped", "skipped", "skipped"]);
  });

  it("fails when every part fails", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const out = await executePlan(plan, deps(async () => failure(502, "upstream down")));
    expect(out).toMatchObject({ ok: false, status: 502, error: { type: "fusion_failed" } });
    expect(!out.ok && out.error.missing).toHaveLength(5);
  });
});

describe("map-reduce", () => {
  it("reduces the notes of every part in order, marking a missing part and naming it in the answer", async () => {
    const plan = await planOf({ prompt: longDoc, max_tokens: 300, temperature: 0.2 }, "extraction", mapPolicy);
    expect(plan.strategy).toBe("map_reduce");
    const n = plan.fragments.length;
    let reduceInput = "";
    const out = await executePlan(
      plan,
      deps(async (f) => {
        if (f.id === "m2") return failure(504, "timed out");
        if (f.role === "reduce") return (reduceInput = f.input), answer(f, "The summary.");
        return answer(f, `notes from ${f.id}`);
      }),
    );
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(reduceInput).toContain(`split into ${n} parts and a smaller model wrote notes`);
    expect(reduceInput).toContain(`Notes on part 1 of ${n}:\nnotes from m1\n\nNotes on part 2 of ${n}: MISSING (could not be read: upstream_error).`);
    expect(reduceInput.indexOf("notes from m3")).toBeLessThan(reduceInput.indexOf(`notes from m${n}`));
    const span = plan.fragments[1]!.span!;
    expect(out.content).toBe(`The summary.\n\n_Note: part 2 of ${n} of the document (characters ${span.start}–${span.end}) could not be read; this answer does not cover it._`);
    expect(out.report.fragments.at(-1)).toMatchObject({ id: "reduce", role: "reduce", model: plan.fuse.kind === "reduce" ? plan.fuse.model : "" });
  });

  it("fails the request when the reduce step fails", async () => {
    const plan = await planOf({ prompt: longDoc, max_tokens: 300, temperature: 0.2 }, "extraction", mapPolicy);
    const out = await executePlan(plan, deps(async (f) => (f.role === "reduce" ? failure(503, "no capacity") : answer(f, "notes"))));
    expect(out).toMatchObject({ ok: false, status: 503, error: { type: "fusion_failed", message: "the reduce step failed: no capacity" } });
  });
});

describe("ensemble", () => {
  const question = q.reasoning[1]!.text;

  it("takes the majority of normalised short answers", async () => {
    const plan = await planOf({ prompt: question, max_tokens: 16, temperature: 0, fusion: { strategy: "ensemble" } }, "reasoning", {}, 4);
    const texts: Record<string, string> = { e1: "No.", e2: "Answer: yes", e3: "**Yes**" };
    const out = await executePlan(plan, deps(async (f) => answer(f, texts[f.id]!)));
    expect(out).toMatchObject({ ok: true, content: "Answer: yes", report: { fused_by: { kind: "vote", agreement: "2/3", model: plan.fragments[1]!.model } } });
    expect(out.report.fused_by.note).toBeUndefined();
    const short = await executePlan(plan, deps(async (f) => (f.id === "e3" ? failure(503, "no capacity") : answer(f, texts[f.id]!))));
    expect(short).toMatchObject({ ok: true, content: "No.", report: { fused_by: { agreement: "1/2", note: `fused from 2 of 3 answers; ${plan.fragments[2]!.model} failed` } } });
    expect(short.report.gaps.map((g) => g.fragment_id)).toEqual(["e3"]);
  });

  it("has a judge write the best answer from lettered candidates, and votes instead if the judge fails", async () => {
    const plan = await planOf({ prompt: question, max_tokens: 200, temperature: 0.7, fusion: { strategy: "ensemble" } }, "reasoning");
    expect(plan.fuse.kind).toBe("judge");
    let judgeInput = "";
    const out = await executePlan(plan, deps(async (f) => (f.role === "judge" ? ((judgeInput = f.input), answer(f, "the judged answer")) : answer(f, `view of ${f.id}`))));
    expect(out.ok && out.content).toBe("the judged answer");
    expect(judgeInput).toContain(`Request:\n${question}\n\nAnswer A:\nview of e1\n\nAnswer B:\nview of e2\n\nAnswer C:\nview of e3`);
    for (const f of plan.fragments) expect(judgeInput).not.toContain(f.model);
    const fallback = await executePlan(plan, deps(async (f) => (f.role === "judge" ? failure(503, "judge unavailable") : answer(f, "same view"))));
    expect(fallback).toMatchObject({ ok: true, content: "same view", report: { fused_by: { kind: "vote", agreement: "3/3" } } });
    expect(fallback.ok && fallback.report.fused_by.note).toMatch(/the judge failed \(judge unavailable\); majority vote instead/);
  });
});

describe("deadline and cancellation", () => {
  it("stops at the deadline, aborting fragments in flight, and answers with what it has when it can", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const signals: AbortSignal[] = [];
    // The slow fragments ignore their signals and end only when the test lets them, after the
    // answer: the executor must not wait for them (if it did, it would never answer).
    let letThemEnd!: () => void;
    const gate = new Promise<void>((r) => (letThemEnd = r));
    const ended: string[] = [];
    const out = await executePlan(
      plan,
      deps(
        async (f, signal) => {
          signals.push(signal);
          if (f.id === "f1") return answer(f, "quick answer");
          await gate;
          ended.push(f.id);
          return answer(f, "too late");
        },
        { deadlineAt: Date.now() + 60 },
      ),
    );
    expect(ended, "answered before any slow fragment ended").toEqual([]);
    letThemEnd();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.content).toContain("quick answer");
    expect(out.content).toContain("_Missing: this part could not be answered (the fused request passed its deadline)._");
    expect(out.report.gaps.map((g) => g.fragment_id)).toEqual(["f2", "f3", "f4", "f5"]);
  });

  it("fails with 504 when the plan needs a model step after the deadline", async () => {
    const plan = await planOf({ prompt: longDoc, max_tokens: 300, temperature: 0.2 }, "extraction", mapPolicy);
    const out = await executePlan(plan, deps(async (f, s) => (f.id === "m1" ? answer(f, "notes") : new Promise<FragmentResult>((_, reject) => s.addEventListener("abort", () => reject(s.reason)))), { deadlineAt: Date.now() + 40 }));
    expect(out).toMatchObject({ ok: false, status: 504, error: { type: "deadline_exceeded" } });
  });

  it("stops when the client goes away", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const client = new AbortController();
    const d = deps((f, s) => (client.abort(), new Promise<FragmentResult>((_, reject) => s.addEventListener("abort", () => reject(s.reason)))), { signal: client.signal });
    expect(await executePlan(plan, d)).toMatchObject({ ok: false, status: 499, error: { type: "cancelled" } });
  });
});

describe("caches", () => {
  const caches = () => {
    const now = () => Date.now();
    return { results: new ResultCache<FragmentSuccess>({ maxEntries: 100, ttlMs: 60_000, now }), flights: new SingleFlight<FragmentResult>(), semantic: new SemanticCache<FragmentSuccess>({ maxEntries: 100, ttlMs: 60_000, now }) };
  };

  it("serves a repeated fragment from the tenant's cache at no cost, never another tenant's", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const shared = caches();
    const first = deps(async (f) => answer(f, `answer to ${f.id}`), { caches: shared });
    await executePlan(plan, first);
    const again = deps(async (f) => answer(f, "recomputed"), { caches: shared });
    const out = await executePlan(plan, again);
    expect(again.calls).toHaveLength(0);
    expect(out.ok && out.content).toContain("answer to f3");
    expect(out.report.fragments.every((f) => f.cache === "hit" && f.cost_usd === 0 && f.allocation_id === `alloc_${f.id}`)).toBe(true);
    expect(out.report.totals).toMatchObject({ cache_hits: 5, cost_usd: 0 });
    const other = deps(async (f) => answer(f, "globex's own"), { caches: shared, tenant: "globex" });
    await executePlan(plan, other);
    expect(other.calls).toHaveLength(5);
  });

  it("computes identical fragments of concurrent requests once", async () => {
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7 });
    const shared = caches();
    let calls = 0;
    const run = async (f: Fragment) => (calls++, await sleep(10), answer(f, `answer to ${f.id}`));
    const [a, b] = await Promise.all([executePlan(plan, deps(run, { caches: shared })), executePlan(plan, deps(run, { caches: shared }))]);
    expect(calls).toBe(5);
    expect([...a.report.fragments, ...b.report.fragments].filter((f) => f.cache === "shared")).toHaveLength(5);
    expect(a.report.totals.cost_usd + b.report.totals.cost_usd).toBeCloseTo(0.005, 9);
  });

  it("reuses a near-duplicate's answer only where the covenant turns the semantic cache on", async () => {
    const prompt = q.reasoning[2]!.text;
    const retyped = `${prompt.toLowerCase()}  `;
    const shared = caches();
    const on = { semantic_cache: true, semantic_threshold: 0.9 };
    await executePlan(await planOf({ prompt, max_tokens: 64, temperature: 0 }, "reasoning", on), deps(async (f) => answer(f, "It has not."), { caches: shared }));
    const hit = await executePlan(await planOf({ prompt: retyped, max_tokens: 64, temperature: 0 }, "reasoning", on), deps(async (f) => answer(f, "fresh"), { caches: shared }));
    expect(hit).toMatchObject({ ok: true, content: "It has not.", report: { fragments: [{ cache: "semantic", similarity: 1 }] } });
    const off = await executePlan(await planOf({ prompt: retyped, max_tokens: 64, temperature: 0 }, "reasoning"), deps(async (f) => answer(f, "fresh"), { caches: shared }));
    expect(off.ok && off.content).toBe("fresh");
  });

  it("neither reads nor fills the caches when the request says cache: false", async () => {
    const shared = caches();
    const plan = await planOf({ prompt: multiPart, max_tokens: 500, temperature: 0.7, fusion: { cache: false } });
    await executePlan(plan, deps(async (f) => answer(f, "one"), { caches: shared }));
    const d = deps(async (f) => answer(f, "two"), { caches: shared });
    await executePlan(plan, d);
    expect(d.calls).toHaveLength(5);
    expect(shared.results.size).toBe(0);
  });
});

describe("fusers", () => {
  it("normalise short answers so that equal answers vote together", () => {
    expect(["(B)", "B.", "Answer: B", "**B**", "The answer is b"].map(normaliseAnswer)).toEqual(Array(5).fill("option:b"));
    expect(["1,000", "1000.", "Final answer: $1000", "1000.0"].map(normaliseAnswer)).toEqual(Array(4).fill("number:1000"));
    expect(normaliseAnswer("Yes, it can!")).toBe("yes it can");
    expect(normaliseAnswer("Because of the B-52.")).not.toBe("option:b");
  });

  it("break ties by the plan's order, deterministically", () => {
    const ballots = [
      { id: "e3", text: "A" },
      { id: "e1", text: "B" },
      { id: "e2", text: "A" },
      { id: "e4", text: "(b)" },
    ];
    expect(majorityVote(ballots, ["e1", "e2", "e3", "e4"])).toEqual({ winner: { id: "e1", text: "B" }, agreement: "2/4", unanimous: false });
    expect(majorityVote(ballots, ["e2", "e1", "e3", "e4"])!.winner.id).toBe("e2");
    expect(majorityVote([], ["e1"])).toBeNull();
  });

  it("name every missing part, in the answer itself", () => {
    expect(concatWithHeadings([{ title: "First", text: " one " }, { title: "Second", text: null, reason: "timed out" }])).toBe("## 1. First\n\none\n\n## 2. Second\n\n_Missing: this part could not be answered (timed out)._");
    expect(missingPartsNote([{ index: 2, start: 10, end: 20 }, { index: 5, start: 50, end: 60 }], 6)).toBe("_Note: parts 2 and 5 of 6 of the document (characters 10–20 and 50–60) could not be read; this answer does not cover them._");
  });
});
