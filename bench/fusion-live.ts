// `npm run bench -- fusion-live`: the fusion bench through the real system. The gateway, the
// covenant object and the Hosted.AI emulator run in one local system (Miniflare by default), the
// emulator K× fast; every request goes over HTTP to POST /v1/strikes with the dev key.
//
//   1. Multi-part prompts (split) and long documents (map-reduce), the requests of bench/fusion.ts,
//      each sent three ways, one path at a time: fused (fusion.max_concurrency 4), the same plan
//      with its fragments one after another (a covenant whose fusion.max_concurrency is 1), and the
//      whole prompt to qwen-70b (strategy single). Caches off (fusion.cache false). Wall time as
//      the client sees it, and cost as the responses report it.
//   2. A replay with repeats (bench/fusion.ts's, shorter) on two covenants, one with the exact
//      result cache only, one with the semantic cache too; hit rates from the fusion reports.
//
// Every path gets a covenant of its own, so no cache, lease or single flight crosses paths. The
// simulated bench runs on the same requests in the same process, and the report sets the two side
// by side. Progress goes to stderr; the report (markdown) to stdout, ending with one key=value line.
import { cpus } from "node:os";
import { looseForm, planFusion } from "../src/fusion";
import { modelCatalogue } from "../src/policy";
import type { ModelRoute, TaskLabel } from "../src/schema";
import { promptTokens } from "../workers/hostedai-emulator/src/textgen";
import { classification, planContext, plannedAs, replay as simulatedReplay, runWorkload } from "./fusion";
import { buildWorkloads, COMPLETION_SEED, CORPUS, LARGE, loadItems, random, REPLAY_SEED, replaySequence, ROUTES, WORKLOAD_SEED, type Workload } from "./lib/fusion-workload";
import { withSystem, type LocalSystem } from "./lib/system";

const T0 = Date.now();
const progress = (line: string) => process.stderr.write(`[fusion-live +${((Date.now() - T0) / 1000).toFixed(0)}s] ${line}\n`);

export interface FusionLiveOptions {
  /** Multi-part prompts measured (of those the planner splits). */
  requests: number;
  /** Long documents measured (of those the planner map-reduces). */
  documents: number;
  /** Requests in each cache replay. */
  replay: number;
  /** The emulator runs this many times fast: LATENCY_SCALE 1/K, TIME_SCALE K. */
  timeScale: number;
  mode: "miniflare" | "wrangler";
  data: string;
  timeoutS: number;
  leakGraceS: number;
}

type PathName = "fused" | "serial" | "large";
const PATHS: readonly PathName[] = ["fused", "serial", "large"];
const REPLAY_IN_FLIGHT = 4;

/** The simulated bench's label → model table as covenant routes, so both benches route alike. */
const ROUTE_LIST: ModelRoute[] = (() => {
  const byModel = new Map<string, TaskLabel[]>();
  for (const [label, model] of Object.entries(ROUTES) as [TaskLabel, string][]) byModel.set(model, [...(byModel.get(model) ?? []), label]);
  return [...byModel].map(([model, labels]) => ({ labels, model }));
})();
const ROUTED_MODELS = [...new Set([...Object.values(ROUTES), "gemma-2b-it"])];

/**
 * What every bench covenant shares: the simulation's routes; leases kept warm for the whole run
 * (one per model ahead of demand, none expiring: a day of emulated time is hours of real time at
 * any scale used here); and an SLO so loose that the lease-sharing check never refuses to share,
 * so up to 4 strikes batch on one lease as the simulation assumes (that check compares estimates
 * learned from the compressed run with a real-time SLO, which the time scale would distort).
 */
const COVENANT_BASE = {
  routes: ROUTE_LIST,
  lease: { idle_timeout_s: 600, duration_s: 86_400, max_warm_leases: 1, max_concurrency: 4 },
  qos: { latency_slo_ms: 60_000 },
};

interface FragmentLike {
  id: string;
  model: string;
  status: "ok" | "failed" | "skipped";
  cache: "miss" | "hit" | "semantic" | "shared";
  cost_usd: number;
  latency_ms: number;
  hash: string;
  error?: { type: string; message: string };
}
interface ReportLike {
  plan: { strategy: string; concurrency: number; reason: string };
  fragments: FragmentLike[];
  gaps: { fragment_id: string; reason: string }[];
  totals: { wall_ms: number; cost_usd: number };
}
interface StrikeLike {
  model: string;
  cost_usd: number;
  fusion?: ReportLike;
  error?: { type: string; message: string };
}

/** One request as the client saw it. */
interface Shot {
  ok: boolean;
  status: number;
  /** Client wall time, real ms. */
  ms: number;
  usd: number;
  body?: StrikeLike;
  text: string;
}

interface Counters {
  /** Non-2xx answers, timeouts and connection errors. */
  failed: number;
  /** Fragments missing from answered requests (gaps). */
  gaps: number;
}

export async function run(argv: string[]): Promise<void> {
  const opts = parseOptions(argv, process.env);
  const k = opts.timeScale;
  progress(`reading ${opts.data}`);
  const items = loadItems(opts.data);
  const { multi, long, pool } = buildWorkloads(items, random(WORKLOAD_SEED));
  const labels = new Map(pool.map((i) => [looseForm(i.text), i.label] as const));
  // The requests the simulation plans as fused; the first ones are measured, one more checks the paths.
  const splitPlanned = await plannedAs(multi, labels, {}, "split");
  const docsPlanned = await plannedAs(long, labels, {}, "map_reduce");
  const pickSet = (all: Workload["requests"], n: number) => ({ measured: all.slice(0, n), check: all[n] ?? all[0]! });
  const split = pickSet(splitPlanned, opts.requests);
  const docs = pickSet(docsPlanned, opts.documents);
  if (split.measured.length < opts.requests) progress(`only ${split.measured.length} multi-part prompts are split by the planner; measuring those`);
  if (docs.measured.length < opts.documents) progress(`only ${docs.measured.length} documents are map-reduced by the planner; measuring those`);
  const sequence = replaySequence(pool, random(REPLAY_SEED), opts.replay);

  progress(`simulating the same requests`);
  const sim = {
    split: await runWorkload({ name: "multi-part", requests: split.measured }, labels, {}, "split"),
    mr: await runWorkload({ name: "long document", requests: docs.measured }, labels, {}, "map_reduce"),
    exact: await simulatedReplay(sequence, labels, false),
    semantic: await simulatedReplay(sequence, labels, true),
    replayWhole: await plannedWhole(sequence, labels),
    models: { split: await simulatedModels(split.measured, labels), mr: await simulatedModels(docs.measured, labels) },
  };

  const started = Date.now();
  progress(`starting the system (${opts.mode}, emulator ×${k})…`);
  const live = await withSystem(
    {
      mode: opts.mode,
      workers: ["hostedai", "gateway"],
      ports: { gateway: 0, hostedai: 0 },
      persist: false,
      quiet: true,
      // The simulation's text-generator seed: the same fragment gets the same completion length.
      emulatorVars: { LATENCY_SCALE: String(1 / k), TIME_SCALE: String(k), SEED: COMPLETION_SEED },
      // Hosted.AI pools only, as in the simulation: no local node to fall back to.
      gatewayVars: { LOCAL_NODE_URL: "" },
    },
    async (system) => {
      progress(`up in ${((Date.now() - started) / 1000).toFixed(1)} s: gateway ${system.gateway}, emulator ${system.hostedai}`);
      return measureLive(system, opts, { split, docs, sequence, sim: { split: sim.split.rows, mr: sim.mr.rows } });
    },
  );
  progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  process.stdout.write(report(opts, live, sim));
}

// ---------------------------------------------------------------------------------------------
// the live run

interface WorkloadRun {
  /** Per measured request and path; undefined where the path was not run (qwen-70b: prompt too long). */
  shots: Record<PathName, Array<Shot | undefined>>;
}

interface ReplayRun {
  requests: number;
  answered: number;
  fragments: number;
  hit: number;
  semantic: number;
  shared: number;
  /** Answered whole, without a fusion report (planned single): one fragment, never cached. */
  whole: number;
  /** What those whole requests ran on, and cost. */
  wholeModels: Record<string, number>;
  wholeUsd: number;
  fullHits: number;
  usd: number;
  realMs: number;
}

interface LiveResult {
  split: WorkloadRun;
  mr: WorkloadRun;
  exact: ReplayRun;
  semantic: ReplayRun;
  counters: Counters;
  leaked: Array<{ allocation_id: string; pool_id?: string }>;
  emulator: { latency_scale: number; time_scale: number };
  callMs: number;
}

async function measureLive(
  system: LocalSystem,
  opts: FusionLiveOptions,
  work: {
    split: { measured: Workload["requests"]; check: Workload["requests"][number] };
    docs: { measured: Workload["requests"]; check: Workload["requests"][number] };
    sequence: string[];
    sim: { split: SimWorkload["rows"]; mr: SimWorkload["rows"] };
  },
): Promise<LiveResult> {
  const gateway = system.gateway!;
  const emulator = system.hostedai!;
  const auth = { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" };
  const k = opts.timeScale;
  const counters: Counters = { failed: 0, gaps: 0 };

  // Make sure of the emulator's speed, whatever its vars said.
  await call(`${emulator}/admin/config`, { method: "POST", body: JSON.stringify({ latency_scale: 1 / k, time_scale: k }) });
  const emulatorConfig = await call<{ latency_scale: number; time_scale: number }>(`${emulator}/admin/config`);
  progress(`emulator latency_scale ${emulatorConfig.latency_scale}, time_scale ${emulatorConfig.time_scale}`);

  const run = Date.now().toString(36);
  const covenants = {
    splitFused: `fl-${run}-split-fused`,
    splitSerial: `fl-${run}-split-serial`,
    splitLarge: `fl-${run}-split-large`,
    mrFused: `fl-${run}-mr-fused`,
    mrSerial: `fl-${run}-mr-serial`,
    mrLarge: `fl-${run}-mr-large`,
    replayExact: `fl-${run}-replay-exact`,
    replaySemantic: `fl-${run}-replay-semantic`,
  };
  const fusionPolicy: Record<keyof typeof covenants, Record<string, unknown>> = {
    splitFused: {},
    splitSerial: { max_concurrency: 1 },
    splitLarge: {},
    mrFused: {},
    mrSerial: { max_concurrency: 1 },
    mrLarge: {},
    replayExact: {},
    replaySemantic: { semantic_cache: true },
  };
  for (const [key, id] of Object.entries(covenants) as [keyof typeof covenants, string][]) {
    await call(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id, ...COVENANT_BASE, fusion: fusionPolicy[key] }) });
  }
  progress(`${Object.keys(covenants).length} covenants created`);

  const strike = async (body: Record<string, unknown>): Promise<Shot> => {
    const t0 = performance.now();
    try {
      const res = await fetch(`${gateway}/v1/strikes`, { method: "POST", headers: auth, body: JSON.stringify(body), signal: AbortSignal.timeout(opts.timeoutS * 1000) });
      const text = await res.text();
      const ms = performance.now() - t0;
      let parsed: StrikeLike | undefined;
      try {
        parsed = JSON.parse(text) as StrikeLike;
      } catch {
        parsed = undefined;
      }
      return { ok: res.ok && parsed !== undefined, status: res.status, ms, usd: res.ok ? (parsed?.cost_usd ?? 0) : 0, ...(parsed ? { body: parsed } : {}), text };
    } catch (err) {
      return { ok: false, status: 0, ms: performance.now() - t0, usd: 0, text: String(err) };
    }
  };
  /** Counts and prints what went wrong with one request; true when it was answered. */
  const tally = (what: string, shot: Shot): boolean => {
    if (!shot.ok) {
      counters.failed++;
      progress(`${what}: failed, ${shot.status || "no answer"}: ${shot.text.slice(0, 600)}`);
      return false;
    }
    const gaps = shot.body?.fusion?.gaps ?? [];
    if (gaps.length > 0) {
      counters.gaps += gaps.length;
      progress(`${what}: answered with ${gaps.length} gap(s): ${gaps.map((g) => `${g.fragment_id}: ${g.reason}`).join("; ").slice(0, 600)}`);
    }
    return true;
  };

  // A warm lease for every model each covenant may use, as the simulation assumes.
  const callMs: number[] = [];
  for (const [key, id] of Object.entries(covenants) as [keyof typeof covenants, string][]) {
    const models = key.endsWith("Large") ? [LARGE] : ROUTED_MODELS;
    for (const model of models) {
      for (let i = 0; i < 2; i++) {
        const shot = await strike({ covenant_id: id, model, prompt: "Say hello.", max_tokens: 1, temperature: 0 });
        if (!shot.ok) throw new Error(`warming ${model} on ${id} failed: ${shot.status} ${shot.text.slice(0, 600)}`);
        if (i === 1) callMs.push(shot.ms);
      }
    }
  }
  callMs.sort((a, b) => a - b);
  const oneStrikeMs = callMs[Math.floor(callMs.length / 2)] ?? 0;
  progress(`warm leases in place; a one-token strike on a warm lease takes ${oneStrikeMs.toFixed(1)} ms (median)`);

  const fits = (prompt: string, maxTokens: number) => promptTokens(prompt) + maxTokens <= modelCatalogue().get(LARGE)!.contextTokens;
  /** The request on each path; no qwen-70b call for a prompt its context cannot hold (as in the simulation). */
  const bodies = (r: Workload["requests"][number], strategy: string, ids: Record<PathName, string>): Record<PathName, Record<string, unknown> | undefined> => {
    const base = { prompt: r.req.prompt, max_tokens: r.req.max_tokens, temperature: r.req.temperature };
    return {
      fused: { covenant_id: ids.fused, ...base, fusion: { strategy, cache: false } },
      serial: { covenant_id: ids.serial, ...base, fusion: { strategy, cache: false } },
      large: fits(r.req.prompt ?? "", r.req.max_tokens) ? { covenant_id: ids.large, model: LARGE, ...base, fusion: { strategy: "single" } } : undefined,
    };
  };

  const workload = async (
    name: string,
    strategy: "split" | "map_reduce",
    set: { measured: Workload["requests"]; check: Workload["requests"][number] },
    ids: Record<PathName, string>,
    simRows: SimWorkload["rows"],
  ): Promise<WorkloadRun> => {
    // Each path must work before anything is measured: one request the measurement does not use.
    const check = bodies(set.check, strategy, ids);
    for (const path of PATHS) {
      const body = check[path] ?? { covenant_id: ids.large, model: LARGE, prompt: "Say hello in one sentence.", max_tokens: 16, fusion: { strategy: "single" } };
      const shot = await strike(body);
      const problem = checkPath(path, strategy, shot);
      if (problem) throw new Error(`${name}, ${path}: the path does not work: ${problem}\n${shot.text.slice(0, 2000)}`);
      progress(`${name}, ${path}: works (${shot.ms.toFixed(0)} ms${shot.body?.fusion ? `, ${shot.body.fusion.fragments.length} fragments at concurrency ${shot.body.fusion.plan.concurrency}` : ""})`);
    }
    const shots: WorkloadRun["shots"] = { fused: [], serial: [], large: [] };
    for (let i = 0; i < set.measured.length; i++) {
      const b = bodies(set.measured[i]!, strategy, ids);
      // Rotate the order, so no path always runs right after the same other one.
      const order = PATHS.map((_, j) => PATHS[(i + j) % PATHS.length]!);
      for (const path of order) {
        const body = b[path];
        if (!body) continue;
        const shot = await strike(body);
        shots[path][i] = shot;
        tally(`${name} #${i + 1} ${path}`, shot);
      }
      const f = shots.fused[i];
      const s = simRows[i];
      progress(
        `${name} ${i + 1}/${set.measured.length}: ` +
          PATHS.map((p) => `${p} ${shots[p][i] ? `${((shots[p][i]!.ms * k) / 1000).toFixed(2)} s` : "–"}`).join(", ") +
          ` (emulated)${f?.body?.fusion ? `, ${f.body.fusion.fragments.length} fragments` : ""}` +
          (s ? `; sim: fused ${(s.fused.ms / 1000).toFixed(2)} s, serial ${(s.serial.ms / 1000).toFixed(2)} s, large ${s.large ? `${(s.large.ms / 1000).toFixed(2)} s` : "–"}, ${s.fragments} fragments` : ""),
      );
    }
    return { shots };
  };

  const splitRun = await workload("multi-part", "split", work.split, { fused: covenants.splitFused, serial: covenants.splitSerial, large: covenants.splitLarge }, work.sim.split);
  const mrRun = await workload("long document", "map_reduce", work.docs, { fused: covenants.mrFused, serial: covenants.mrSerial, large: covenants.mrLarge }, work.sim.mr);

  const replay = async (name: string, covenantId: string): Promise<ReplayRun> => {
    const out: ReplayRun = { requests: 0, answered: 0, fragments: 0, hit: 0, semantic: 0, shared: 0, whole: 0, wholeModels: {}, wholeUsd: 0, fullHits: 0, usd: 0, realMs: 0 };
    const t0 = performance.now();
    for (let i = 0; i < work.sequence.length; i += REPLAY_IN_FLIGHT) {
      const wave = work.sequence.slice(i, i + REPLAY_IN_FLIGHT);
      const shots = await Promise.all(wave.map((prompt) => strike({ covenant_id: covenantId, prompt, max_tokens: 256, temperature: 0, fusion: { strategy: "auto" } })));
      shots.forEach((shot, j) => {
        out.requests++;
        if (!tally(`replay ${name} #${i + j + 1}`, shot)) return;
        out.answered++;
        out.usd += shot.usd;
        const report = shot.body?.fusion;
        if (!report) {
          out.whole++;
          out.fragments++;
          out.wholeUsd += shot.usd;
          const model = shot.body?.model ?? "?";
          out.wholeModels[model] = (out.wholeModels[model] ?? 0) + 1;
          return;
        }
        if (report.fragments.every((f) => f.cache !== "miss")) out.fullHits++;
        for (const f of report.fragments) {
          out.fragments++;
          if (f.cache !== "miss") out[f.cache]++;
        }
      });
      if ((i / REPLAY_IN_FLIGHT) % 5 === 4 || i + REPLAY_IN_FLIGHT >= work.sequence.length) {
        progress(`replay ${name}: ${out.requests}/${work.sequence.length}, fragment hit rate so far ${((out.hit + out.semantic + out.shared) / Math.max(1, out.fragments)).toFixed(2)}`);
      }
    }
    out.realMs = performance.now() - t0;
    return out;
  };
  const exact = await replay("exact", covenants.replayExact);
  const semantic = await replay("semantic", covenants.replaySemantic);

  // Deleting a covenant releases every lease it holds; then nothing may be left on the emulator.
  for (const id of Object.values(covenants)) {
    for (let i = 0; ; i++) {
      const res = await fetch(`${gateway}/v1/covenants/${id}`, { method: "DELETE", headers: auth });
      const text = await res.text();
      if (res.ok) break;
      if (i >= 20) {
        progress(`DELETE /v1/covenants/${id} kept answering ${res.status}: ${text.slice(0, 300)}`);
        break;
      }
      await sleep(250);
    }
  }
  const leaked = await leakCheck(emulator, opts.leakGraceS);
  return { split: splitRun, mr: mrRun, exact, semantic, counters, leaked, emulator: emulatorConfig, callMs: oneStrikeMs };
}

/** Per request, the model of each fragment (and of the reduce step) in the simulation's plan, by fragment id. */
async function simulatedModels(requests: Workload["requests"], labels: Map<string, TaskLabel>): Promise<Array<Map<string, string>>> {
  const ctx = planContext(labels, {});
  return Promise.all(
    requests.map(async ({ req, label }) => {
      const planned = await planFusion(req, classification(label, req.prompt ?? ""), ctx);
      const models = new Map<string, string>();
      if (!planned.ok) return models;
      for (const f of planned.plan.fragments) models.set(f.id, f.model);
      if (planned.plan.fuse.kind === "reduce" || planned.plan.fuse.kind === "judge") models.set(planned.plan.fuse.kind, planned.plan.fuse.model);
      return models;
    }),
  );
}

/**
 * The replay requests the simulation's planner (corpus labels) leaves whole, and how many of them
 * repeat an earlier whole one exactly (an exact-cache hit in the simulation) or re-typed (semantic).
 */
async function plannedWhole(sequence: readonly string[], labels: Map<string, TaskLabel>): Promise<{ whole: number; repeats: number; retyped: number }> {
  const ctx = planContext(labels, {});
  const seen = new Set<string>();
  const seenLoose = new Set<string>();
  const out = { whole: 0, repeats: 0, retyped: 0 };
  for (const prompt of sequence) {
    const planned = await planFusion({ prompt, max_tokens: 256, temperature: 0 }, classification("knowledge", prompt), ctx);
    if (!planned.ok || planned.plan.strategy !== "single") continue;
    out.whole++;
    const hash = planned.plan.fragments[0]!.hash;
    if (seen.has(hash)) out.repeats++;
    else if (seenLoose.has(looseForm(prompt))) out.retyped++;
    seen.add(hash);
    seenLoose.add(looseForm(prompt));
  }
  return out;
}

/** Why a check request shows its path does not work, or undefined when it does. */
function checkPath(path: PathName, strategy: string, shot: Shot): string | undefined {
  if (!shot.ok) return `answered ${shot.status || "nothing"}`;
  const report = shot.body?.fusion;
  if (path === "large") return shot.body?.model === LARGE && !report ? undefined : `expected one ${LARGE} strike, got model ${shot.body?.model}${report ? " with a fusion report" : ""}`;
  if (!report) return `no fusion report: the request ran whole`;
  if (report.plan.strategy !== strategy) return `planned as ${report.plan.strategy} (${report.plan.reason}), not ${strategy}`;
  if (report.gaps.length > 0) return `gaps: ${report.gaps.map((g) => g.reason).join("; ")}`;
  if (path === "serial" && report.plan.concurrency !== 1) return `concurrency ${report.plan.concurrency}, not 1`;
  if (path === "fused" && report.plan.concurrency < 2) return `concurrency ${report.plan.concurrency}: nothing runs in parallel`;
  if (report.fragments.some((f) => f.cache !== "miss")) return `a fragment came from a cache although the request said cache: false`;
  return undefined;
}

async function leakCheck(emulator: string, graceS: number): Promise<Array<{ allocation_id: string; pool_id?: string }>> {
  type AdminView = { allocations: Array<{ allocation_id: string; pool_id?: string }> };
  const started = Date.now();
  let admin = await call<AdminView>(`${emulator}/admin/allocations`);
  while (admin.allocations.length > 0 && Date.now() - started < graceS * 1000) {
    await sleep(500);
    admin = await call<AdminView>(`${emulator}/admin/allocations`);
  }
  if (admin.allocations.length > 0) progress(`${admin.allocations.length} allocation(s) still live ${graceS} s after every covenant was deleted`);
  else progress(`no allocation left on the emulator (${((Date.now() - started) / 1000).toFixed(1)} s after the covenants were deleted)`);
  return admin.allocations.map(({ allocation_id, pool_id }) => ({ allocation_id, ...(pool_id ? { pool_id } : {}) }));
}

// ---------------------------------------------------------------------------------------------
// figures

type SimWorkload = Awaited<ReturnType<typeof runWorkload>>;
type SimReplay = Awaited<ReturnType<typeof simulatedReplay>>;

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** The sample at rank ⌈q·n⌉ (nearest rank); the median is the sample at index ⌊n/2⌋, as in bench/fusion.ts. */
const quantile = (xs: number[], q: number) => {
  const s = sorted(xs);
  return s.length === 0 ? NaN : q === 0.5 ? s[Math.floor(s.length / 2)]! : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const median = (xs: number[]) => quantile(xs, 0.5);

interface WorkloadFigures {
  measured: number;
  /** Requests whose fused and serial answers both came back as the expected plan, without gaps. */
  compared: number;
  fusedAsPlanned: number;
  samePlan: number;
  fragments: number;
  ms: Record<PathName, { p50: number; p95: number; n: number }>;
  speedupVsSerial: number;
  speedupVsLarge: number;
  usd: { fused: number; serial: number; large: number; fusedComparable: number };
  largeRan: number;
  /** Client wall − the plan's own wall time (fusion.totals.wall_ms), real ms, median over fused requests. */
  outsidePlanMs: number;
  /** Fragments of the compared fused requests, and how many ran on the model the simulation's plan gives them. */
  fragmentsTotal: number;
  sameModel: number;
}

function workloadFigures(w: WorkloadRun, strategy: string, k: number, simModels: Array<Map<string, string>>): WorkloadFigures {
  const n = w.shots.fused.length;
  const good = (s: Shot | undefined) => s !== undefined && s.ok && (s.body?.fusion?.gaps.length ?? 0) === 0;
  const planned = (s: Shot | undefined) => good(s) && s!.body?.fusion?.plan.strategy === strategy;
  const idx = Array.from({ length: n }, (_, i) => i);
  const compared = idx.filter((i) => planned(w.shots.fused[i]) && planned(w.shots.serial[i]));
  const withLarge = compared.filter((i) => good(w.shots.large[i]));
  const emu = (s: Shot) => (s.ms * k) / 1000;
  const hashes = (s: Shot) => s.body!.fusion!.fragments.map((f) => `${f.id}:${f.hash}`).join(",");
  const pathMs = (p: PathName) => {
    const xs = (p === "large" ? withLarge : compared).map((i) => emu(w.shots[p][i]!));
    return { p50: median(xs), p95: quantile(xs, 0.95), n: xs.length };
  };
  const sum = (p: PathName, is: number[]) => is.reduce((s, i) => s + w.shots[p][i]!.usd, 0);
  return {
    measured: n,
    compared: compared.length,
    fusedAsPlanned: idx.filter((i) => planned(w.shots.fused[i])).length,
    samePlan: compared.filter((i) => hashes(w.shots.fused[i]!) === hashes(w.shots.serial[i]!)).length,
    fragments: median(compared.map((i) => w.shots.fused[i]!.body!.fusion!.fragments.length)),
    ms: { fused: pathMs("fused"), serial: pathMs("serial"), large: pathMs("large") },
    speedupVsSerial: median(compared.map((i) => w.shots.serial[i]!.ms / w.shots.fused[i]!.ms)),
    speedupVsLarge: median(withLarge.map((i) => w.shots.large[i]!.ms / w.shots.fused[i]!.ms)),
    usd: { fused: sum("fused", compared), serial: sum("serial", compared), large: sum("large", withLarge), fusedComparable: sum("fused", withLarge) },
    largeRan: withLarge.length,
    outsidePlanMs: median(compared.map((i) => w.shots.fused[i]!.ms - w.shots.fused[i]!.body!.fusion!.totals.wall_ms)),
    fragmentsTotal: compared.reduce((n, i) => n + w.shots.fused[i]!.body!.fusion!.fragments.length, 0),
    sameModel: compared.reduce((n, i) => n + w.shots.fused[i]!.body!.fusion!.fragments.filter((f) => simModels[i]?.get(f.id) === f.model).length, 0),
  };
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const sig = (n: number) => (Number.isFinite(n) ? n.toPrecision(2) : "–");
const sec = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} s` : "–");
const usd = (n: number) => `$${n.toFixed(4)}`;
const hitRate = (c: { hit: number; semantic: number; shared: number; fragments: number }) => (c.hit + c.semantic + c.shared) / c.fragments;

function report(opts: FusionLiveOptions, live: LiveResult, sim: { split: SimWorkload; mr: SimWorkload; exact: SimReplay; semantic: SimReplay; replayWhole: { whole: number; repeats: number; retyped: number }; models: { split: Array<Map<string, string>>; mr: Array<Map<string, string>> } }): string {
  const k = opts.timeScale;
  const split = workloadFigures(live.split, "split", k, sim.models.split);
  const mr = workloadFigures(live.mr, "map_reduce", k, sim.models.mr);
  const errors = live.counters.failed + live.counters.gaps;
  const out: string[] = [
    `## Fusion, live through the workers: ${split.measured} multi-part prompts, ${mr.measured} long documents, replays of ${opts.replay}, time scale ${k}`,
    ``,
    `${new Date().toISOString().slice(0, 10)} · ${opts.mode} · emulator latency_scale ${sig(live.emulator.latency_scale)}, time_scale ${live.emulator.time_scale} · ` +
      `${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? "unknown"}) · Node ${process.versions.node}`,
    ``,
    `- Times: each request's wall time at the client × ${k} (the time scale), in emulated seconds, to read against the simulation. ` +
      `The emulator's inference times shrink ${k}×, the gateway's own work does not, so every real millisecond outside inference counts ${k}× here: ` +
      `a one-token strike on a warm lease took ${live.callMs.toFixed(1)} ms real; a fused request spent a median ${f2(split.outsidePlanMs)} ms (split) and ${f2(mr.outsidePlanMs)} ms (map-reduce) outside its plan.`,
    `- Costs: the responses' cost_usd (emulated allocation seconds × slice price, shared by the strikes batched on a lease).`,
    `- "sim": bench/fusion.ts on the same requests. It routes fragments by the corpus labels, the gateway by its classifier (through the same label → model table): ` +
      `${split.sameModel} of ${split.fragmentsTotal} split fragments and ${mr.sameModel} of ${mr.fragmentsTotal} map-reduce fragments (reduce steps included) ran on the model the simulation gives them.`,
    ``,
    `| workload | path | answered as planned | median fragments | p50 | p95 | sim p50 / p95 | cost | sim cost |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
  ];
  for (const [name, f, s] of [["multi-part (split)", split, sim.split], ["long document (map-reduce)", mr, sim.mr]] as const) {
    const simMs = (p: PathName) => `${sec(s.p50[p] / 1000)} / ${sec(s.p95[p] / 1000)}`;
    out.push(`| ${name} | fused (up to 4 at a time) | ${f.compared}/${f.measured} | ${f.fragments} | ${sec(f.ms.fused.p50)} | ${sec(f.ms.fused.p95)} | ${simMs("fused")} | ${usd(f.usd.fused)} | ${usd(s.usd.fused)} |`);
    out.push(`| | one after another | ${f.compared}/${f.measured} (same fragments: ${f.samePlan}) | ${f.fragments} | ${sec(f.ms.serial.p50)} | ${sec(f.ms.serial.p95)} | ${simMs("serial")} | ${usd(f.usd.serial)} | ${usd(s.usd.serial)} |`);
    out.push(`| | one ${LARGE} call | ${f.largeRan}/${f.compared} (fit its context) | 1 | ${sec(f.ms.large.p50)} | ${sec(f.ms.large.p95)} | ${simMs("large")} | ${usd(f.usd.large)} | ${usd(s.usd.large)} |`);
  }
  out.push(
    ``,
    `| workload | speed-up vs serial, live (median) | sim | speed-up vs ${LARGE}, live (median) | sim | cost fused ÷ ${LARGE}, live | sim |`,
    `| --- | --- | --- | --- | --- | --- | --- |`,
  );
  for (const [name, f, s] of [["multi-part (split)", split, sim.split], ["long document (map-reduce)", mr, sim.mr]] as const) {
    out.push(`| ${name} | ${f2(f.speedupVsSerial)}× | ${f2(s.speedupVsSerial)}× | ${f2(f.speedupVsLarge)}× | ${f2(s.speedupVsLarge)}× | ${sig(f.usd.fusedComparable / f.usd.large)} | ${sig(s.usd.fusedComparable / s.usd.large)} |`);
  }
  out.push(
    ``,
    `| replay (${opts.replay} requests, ${REPLAY_IN_FLIGHT} in flight) | answered | fragments | exact hits | semantic hits | shared in flight | planned whole, live / sim | fragment hit rate, live | sim (same sequence) | answered wholly from cache | cost | sim cost |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
  );
  for (const [name, c, s] of [["exact cache", live.exact, sim.exact], ["exact + semantic (0.9)", live.semantic, sim.semantic]] as const) {
    out.push(
      `| ${name} | ${c.answered}/${c.requests} | ${c.fragments} | ${c.hit} | ${c.semantic} | ${c.shared} | ${c.whole} / ${sim.replayWhole.whole} | ${f2(hitRate(c))} | ${f2(hitRate(s))} | ${c.fullHits}/${c.requests} | ${usd(c.usd)} | ${usd(s.usd)} |`,
    );
  }
  const models = (c: ReplayRun) => Object.entries(c.wholeModels).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${n} on ${m}`).join(", ");
  out.push(
    ``,
    `A replay request planned whole runs as a plain strike, which no result cache serves; the simulation runs it through the executor, caches and all, on the model of a knowledge request. ` +
      `Live: exact ${live.exact.whole} (${models(live.exact)}; ${usd(live.exact.wholeUsd)}), semantic ${live.semantic.whole} (${models(live.semantic)}; ${usd(live.semantic.wholeUsd)}). ` +
      `In the simulation ${sim.replayWhole.repeats} of its ${sim.replayWhole.whole} repeat an earlier one exactly and ${sim.replayWhole.retyped} re-typed; ` +
      `its hits + shared exceed the live ones by ${sim.exact.hit + sim.exact.semantic + sim.exact.shared - (live.exact.hit + live.exact.semantic + live.exact.shared)} (exact) and ${sim.semantic.hit + sim.semantic.semantic + sim.semantic.shared - (live.semantic.hit + live.semantic.semantic + live.semantic.shared)} (semantic) fragments.`,
    ``,
    `Errors: ${live.counters.failed} failed requests, ${live.counters.gaps} fragments missing from answered ones. ` +
      `Leaked allocations (live ${opts.leakGraceS} s after every covenant was deleted): ${live.leaked.length}` +
      (live.leaked.length > 0 ? ` (${live.leaked.slice(0, 5).map((a) => `${a.allocation_id}${a.pool_id ? ` on ${a.pool_id}` : ""}`).join(", ")}${live.leaked.length > 5 ? ", …" : ""})` : "") +
      `.`,
    ``,
    `split_speedup_vs_serial=${f2(split.speedupVsSerial)} split_speedup_vs_large=${f2(split.speedupVsLarge)} split_cost_vs_large=${sig(split.usd.fusedComparable / split.usd.large)} ` +
      `mapreduce_speedup_vs_serial=${f2(mr.speedupVsSerial)} mapreduce_speedup_vs_large=${f2(mr.speedupVsLarge)} mapreduce_cost_vs_large=${sig(mr.usd.fusedComparable / mr.usd.large)} ` +
      `cache_hit_rate=${f2(hitRate(live.exact))} cache_hit_rate_semantic=${f2(hitRate(live.semantic))} errors=${errors} leaked=${live.leaked.length} time_scale=${k}`,
    ``,
  );
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// plumbing

async function call<T = unknown>(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<T> {
  const res = await fetch(url, { method: init.method ?? "GET", headers: { "content-type": "application/json", ...init.headers }, body: init.body ?? null, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): FusionLiveOptions {
  const flags = new Map<string, string>();
  const known = ["requests", "documents", "replay", "time-scale", "mode", "data", "timeout", "leak-grace"];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    if (!known.includes(m[1]!)) throw new Error(`unknown option --${m[1]} (known: ${known.map((n) => `--${n}`).join(", ")})`);
    flags.set(m[1]!, value);
  }
  const pick = (flag: string, envName: string, fallback: string) => flags.get(flag) ?? env[envName] ?? fallback;
  const int = (flag: string, envName: string, fallback: number, min: number) => {
    const n = Number(pick(flag, envName, String(fallback)));
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} must be an integer ≥ ${min}`);
    return n;
  };
  const mode = pick("mode", "BENCH_MODE", "miniflare");
  if (mode !== "miniflare" && mode !== "wrangler") throw new Error(`--mode must be miniflare or wrangler`);
  const timeScale = Number(pick("time-scale", "BENCH_TIME_SCALE", "10"));
  if (!(timeScale >= 1 && timeScale <= 100)) throw new Error(`--time-scale must be between 1 and 100`);
  const timeoutS = Number(pick("timeout", "BENCH_TIMEOUT", "120"));
  const leakGraceS = Number(pick("leak-grace", "BENCH_LEAK_GRACE", "15"));
  if (!(timeoutS > 0) || !(leakGraceS >= 0)) throw new Error(`--timeout must be positive seconds, --leak-grace seconds ≥ 0`);
  return {
    requests: int("requests", "BENCH_REQUESTS", 12, 1),
    documents: int("documents", "BENCH_DOCUMENTS", 6, 1),
    replay: int("replay", "BENCH_REPLAY", 100, 4),
    timeScale,
    mode,
    data: pick("data", "BENCH_PROMPTS", CORPUS),
    timeoutS,
    leakGraceS,
  };
}
