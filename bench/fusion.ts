/**
 * Fusion bench: fused plans vs the same fragments run one after another vs one large-model call,
 * and cache hit rates on a replay with repeats — all in simulated time, in seconds, no servers.
 *
 * Inference time and cost come from the Hosted.AI emulator's own pure model (throughput.ts,
 * billing.ts, its pool and model catalogue) and completion lengths from its text generator, so
 * the figures are what the emulator would charge. Each model runs on a warm lease on its
 * cheapest fitting pool; up to 4 strikes share a lease, batched (each slowed by √n, each paying
 * 1/n of the slice while it runs). Allocation latency is left out: every path gets warm leases.
 * Requests are built from the shared prompts corpus; their labels stand in for the classifier
 * (the bench measures fusion, not classification), routed by a fixed label → model table.
 */
import { costUsd, slicePricePerHour } from "../workers/hostedai-emulator/src/billing";
import { DEFAULT_POOLS, MODELS } from "../workers/hostedai-emulator/src/catalogue";
import { generateCompletion, promptTokens } from "../workers/hostedai-emulator/src/textgen";
import { planInference } from "../workers/hostedai-emulator/src/throughput";
import { estimateTokens, estimatorFromPrices, executePlan, looseForm, planFusion, resolveFusionPolicy, ResultCache, SemanticCache, SingleFlight, type Fragment, type FragmentResult, type FragmentSuccess, type FusionCaches, type FusionPlan, type FusionRequest, type PlanContext } from "../src/fusion";
import { DEFAULT_MODELS, defaultContract, modelCatalogue } from "../src/policy";
import type { Classification, FusionPolicy, TaskLabel } from "../src/schema";
import { buildWorkloads, COMPLETION_SEED, CORPUS, LARGE, loadItems, random, REPLAY_SEED, replaySequence, ROUTES, WORKLOAD_SEED, type Workload } from "./lib/fusion-workload";

const LEASE_CONCURRENCY = 4;
const catalogue = modelCatalogue();

/** Where each model runs and what its slice costs an hour: the cheapest pool whose GPUs fit it. */
const SLICES = new Map(
  Object.values(MODELS).map((m) => {
    const preemptibleOk = DEFAULT_MODELS.find((d) => d.id === m.id)?.preemptibleOk ?? false;
    const fits = DEFAULT_POOLS.filter((p) => p.vram_mb_per_gpu >= m.vram_mb && p.tflops_per_gpu >= m.tflops);
    // A model the matrix lets run preemptible gets a preemptible slice, at the pool's preemptible price.
    const gpuPrice = (p: (typeof fits)[number]) => (preemptibleOk ? p.preemptible_price_per_gpu_hour : p.price_per_gpu_hour);
    const priced = fits.map((p) => ({ pool: p.id, price: slicePricePerHour({ vram_mb: p.vram_mb_per_gpu, tflops: p.tflops_per_gpu, price_per_gpu_hour: gpuPrice(p) }, { vram_mb: m.vram_mb, tflops: m.tflops }) }));
    return [m.id, priced.sort((a, b) => a.price - b.price)[0]!] as const;
  }),
);

/** A virtual clock: timers fire in time order once the promises they wake have settled. */
class VirtualTime {
  now = 0;
  private timers: { at: number; seq: number; wake: () => void }[] = [];
  private seq = 0;
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.timers.push({ at: this.now + ms, seq: this.seq++, wake });
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    });
  }
  /**
   * Runs `work` to completion. Between timers only promise jobs run, and they all settle within one
   * macrotask turn; the executor's only other wait — digesting a reduce or judge prompt — comes when
   * every fragment before it has finished and no timer is due, so time stays exact.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    let settled = false;
    const p = work().finally(() => (settled = true));
    while (!settled) {
      await new Promise<void>((r) => setImmediate(r));
      if (settled) break;
      const next = this.timers.shift();
      if (next) {
        this.now = next.at;
        next.wake();
      }
    }
    return p;
  }
}

/** One strike on the emulator's model: warm lease, batched with the other strikes on the same model. */
function strikeSimulator(vt: VirtualTime) {
  const inFlight = new Map<string, number>();
  return async (f: Pick<Fragment, "model" | "prompt" | "max_tokens" | "temperature">): Promise<FragmentSuccess> => {
    const spec = MODELS[f.model]!;
    const slice = SLICES.get(f.model)!;
    const n = (inFlight.get(f.model) ?? 0) + 1;
    inFlight.set(f.model, n);
    const sharing = ((n - 1) % LEASE_CONCURRENCY) + 1;
    const completion = generateCompletion({ seed: COMPLETION_SEED, model: f.model, prompt: f.prompt, maxTokens: f.max_tokens, temperature: f.temperature });
    const prompt = promptTokens(f.prompt);
    const timing = planInference({ model: spec, sliceTflops: spec.tflops, promptTokens: prompt, completionTokens: completion.completionTokens, concurrent: sharing, latencyScale: 1 });
    await vt.sleep(timing.totalMs);
    inFlight.set(f.model, inFlight.get(f.model)! - 1);
    return { ok: true, text: completion.text, model: f.model, pool_id: slice.pool, allocation_id: `sim-${f.model}`, usage: { prompt_tokens: prompt, completion_tokens: completion.completionTokens }, cost_usd: costUsd(timing.totalMs / 1000, slice.price) / sharing, finish_reason: completion.finishReason };
  };
}

export const classification = (label: TaskLabel, text: string): Classification => ({
  label,
  probabilities: { coding: 0, math: 0, reasoning: 0, extraction: 0, writing: 0, roleplay: 0, knowledge: 0, [label]: 1 },
  complexity: 0.5,
  prompt_tokens: estimateTokens(text),
  output_tokens: 256,
  latency_class: "standard",
  classifier: "corpus-labels",
});

export function planContext(labels: Map<string, TaskLabel>, policy: FusionPolicy): PlanContext {
  const labelOf = (text: string): TaskLabel => {
    const loose = looseForm(text);
    for (const [key, label] of labels) if (loose.includes(key)) return label;
    return "knowledge";
  };
  return {
    covenant: defaultContract("bench", catalogue, new Date(0).toISOString()),
    policy: resolveFusionPolicy(policy),
    catalogue,
    classify: (t) => classification(labelOf(t), t),
    route: (c) => ROUTES[c.label],
    estimate: estimatorFromPrices(catalogue, (m) => SLICES.get(m)!.price),
  };
}

interface Row {
  fused: { ms: number; usd: number };
  serial: { ms: number; usd: number };
  large: { ms: number; usd: number } | null;
  fragments: number;
}

async function measure(plan: FusionPlan, req: FusionRequest): Promise<Row> {
  const runPlan = async (concurrency: number) => {
    const vt = new VirtualTime();
    const strike = strikeSimulator(vt);
    const out = await vt.run(() => executePlan(plan, { tenant: "bench", now: () => vt.now, concurrency, runFragment: (f) => strike(f) }));
    return { ms: vt.now, usd: out.report.totals.cost_usd };
  };
  const vt = new VirtualTime();
  const prompt = req.prompt ?? "";
  const fits = promptTokens(prompt) + req.max_tokens <= catalogue.get(LARGE)!.contextTokens;
  const large = fits ? await vt.run(() => strikeSimulator(vt)({ model: LARGE, prompt, max_tokens: req.max_tokens, temperature: req.temperature })) : null;
  return { fused: await runPlan(plan.concurrency), serial: await runPlan(1), large: large ? { ms: vt.now, usd: large.cost_usd } : null, fragments: plan.fragments.length + (plan.fuse.kind === "reduce" || plan.fuse.kind === "judge" ? 1 : 0) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)] ?? NaN;
const f2 = (n: number) => n.toFixed(2);
const sig = (n: number) => n.toPrecision(2);

/** The requests of a workload the planner (with the corpus labels) plans as `strategy`, in order. */
export async function plannedAs(w: Workload, labels: Map<string, TaskLabel>, policy: FusionPolicy, strategy: string): Promise<Workload["requests"]> {
  const ctx = planContext(labels, policy);
  const out: Workload["requests"] = [];
  for (const r of w.requests) {
    const planned = await planFusion(r.req, classification(r.label, r.req.prompt ?? ""), ctx);
    if (planned.ok && planned.plan.strategy === strategy) out.push(r);
  }
  return out;
}

export async function runWorkload(w: Workload, labels: Map<string, TaskLabel>, policy: FusionPolicy, strategy: string) {
  const ctx = planContext(labels, policy);
  const rows: Row[] = [];
  for (const { req, label } of w.requests) {
    const planned = await planFusion(req, classification(label, req.prompt ?? ""), ctx);
    if (!planned.ok || planned.plan.strategy !== strategy) continue;
    rows.push(await measure(planned.plan, req));
  }
  const withLarge = rows.filter((r) => r.large !== null);
  const sum = (pick: (r: Row) => number, rs = rows) => rs.reduce((s, r) => s + pick(r), 0);
  return {
    planned: rows.length,
    of: w.requests.length,
    fragments: median(rows.map((r) => r.fragments)),
    speedupVsSerial: median(rows.map((r) => r.serial.ms / r.fused.ms)),
    speedupVsLarge: median(withLarge.map((r) => r.large!.ms / r.fused.ms)),
    p50: { fused: median(rows.map((r) => r.fused.ms)), serial: median(rows.map((r) => r.serial.ms)), large: median(withLarge.map((r) => r.large!.ms)) },
    p95: { fused: p95(rows.map((r) => r.fused.ms)), serial: p95(rows.map((r) => r.serial.ms)), large: p95(withLarge.map((r) => r.large!.ms)) },
    usd: { fused: sum((r) => r.fused.usd), serial: sum((r) => r.serial.usd), large: sum((r) => r.large!.usd, withLarge), fusedComparable: sum((r) => r.fused.usd, withLarge) },
    largeFits: withLarge.length,
    rows,
  };
}

/** A replay with repeats (`replaySequence`): 4 requests in flight at a time, on one tenant's caches. */
export async function replay(sequence: readonly string[], labels: Map<string, TaskLabel>, semantic: boolean) {
  const ctx = planContext(labels, { semantic_cache: semantic, semantic_threshold: 0.9 });
  const vt = new VirtualTime();
  const strike = strikeSimulator(vt);
  const now = () => vt.now;
  const caches: FusionCaches = { results: new ResultCache({ maxEntries: 512, ttlMs: 3_600_000, now }), flights: new SingleFlight<FragmentResult>(), ...(semantic ? { semantic: new SemanticCache<FragmentSuccess>({ maxEntries: 512, ttlMs: 3_600_000, now }) } : {}) };
  const counts = { fragments: 0, hit: 0, semantic: 0, shared: 0, requests: 0, fullHits: 0, usd: 0 };
  for (let i = 0; i < sequence.length; i += 4) {
    // Planning (which awaits digests) happens before the wave runs, so virtual time stays exact.
    const plans = await Promise.all(
      sequence.slice(i, i + 4).map(async (prompt) => {
        const planned = await planFusion({ prompt, max_tokens: 256, temperature: 0 }, classification("knowledge", prompt), ctx);
        if (!planned.ok) throw new Error(planned.error.message);
        return planned.plan;
      }),
    );
    const wave = plans.map(async (plan) => {
      const out = await executePlan(plan, { tenant: "bench", now, caches, runFragment: (f) => strike(f) });
      counts.requests++;
      counts.usd += out.report.totals.cost_usd;
      if (out.report.fragments.every((f) => f.cache !== "miss")) counts.fullHits++;
      for (const f of out.report.fragments) {
        counts.fragments++;
        if (f.cache !== "miss") counts[f.cache]++;
      }
    });
    await vt.run(() => Promise.all(wave));
  }
  return counts;
}

export async function run(args: string[]): Promise<void> {
  const at = args.indexOf("--data");
  const path = at >= 0 && args[at + 1] ? args[at + 1]! : (process.env.BENCH_PROMPTS ?? CORPUS);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`fusion bench: reading ${path}`);
  const items = loadItems(path);
  const { multi, long, pool } = buildWorkloads(items, random(WORKLOAD_SEED));
  const labels = new Map(pool.map((i) => [looseForm(i.text), i.label] as const));
  log("fusion bench: split workload");
  const split = await runWorkload(multi, labels, {}, "split");
  log("fusion bench: map-reduce workload");
  const mr = await runWorkload(long, labels, {}, "map_reduce");
  log("fusion bench: cache replay");
  const exact = await replay(replaySequence(pool, random(REPLAY_SEED)), labels, false);
  const near = await replay(replaySequence(pool, random(REPLAY_SEED)), labels, true);

  const ms = (n: number) => `${(n / 1000).toFixed(2)} s`;
  const usd = (n: number) => `$${n.toFixed(4)}`;
  const out: string[] = [
    "| workload | planned as fused | median fragments | p50 fused | p50 one after another | p50 one qwen-70b call | speed-up vs serial (median) | speed-up vs qwen-70b (median) | cost fused | cost serial | cost qwen-70b (same requests) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [name, r] of [["multi-part (split)", split], ["long document (map-reduce)", mr]] as const) {
    out.push(`| ${name} | ${r.planned}/${r.of} | ${r.fragments} | ${ms(r.p50.fused)} | ${ms(r.p50.serial)} | ${ms(r.p50.large)} | ${f2(r.speedupVsSerial)}× | ${f2(r.speedupVsLarge)}× | ${usd(r.usd.fused)} | ${usd(r.usd.serial)} | ${usd(r.usd.large)} vs ${usd(r.usd.fusedComparable)} fused (${r.largeFits} fit its context) |`);
  }
  out.push("", "| replay (200 requests, 4 in flight) | fragments | exact hits | semantic hits | shared in flight | fragment hit rate | requests answered wholly from cache | cost |", "| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [name, c] of [["exact cache", exact], ["exact + semantic (0.9)", near]] as const) {
    out.push(`| ${name} | ${c.fragments} | ${c.hit} | ${c.semantic} | ${c.shared} | ${f2((c.hit + c.semantic + c.shared) / c.fragments)} | ${c.fullHits}/${c.requests} | ${usd(c.usd)} |`);
  }
  const rate = (c: typeof exact) => (c.hit + c.semantic + c.shared) / c.fragments;
  out.push(
    "",
    `split_speedup_vs_serial=${f2(split.speedupVsSerial)} split_speedup_vs_large=${f2(split.speedupVsLarge)} split_cost_vs_large=${sig(split.usd.fusedComparable / split.usd.large)} mapreduce_speedup_vs_serial=${f2(mr.speedupVsSerial)} mapreduce_speedup_vs_large=${f2(mr.speedupVsLarge)} mapreduce_cost_vs_large=${sig(mr.usd.fusedComparable / mr.usd.large)} cache_hit_rate=${f2(rate(exact))} cache_hit_rate_semantic=${f2(rate(near))}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}
