// The fusion-live bench's results: what a run collects, the figures drawn from it, and the
// markdown report with the summary line. No I/O; bench/fusion-live.ts measures and prints.
import { cpus } from "node:os";
import type { replay as simulatedReplay, runWorkload } from "../fusion";
import { LARGE } from "./fusion-workload";

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

export type PathName = "fused" | "serial" | "large";
export const PATHS: readonly PathName[] = ["fused", "serial", "large"];
/** Replay requests in flight at a time. */
export const REPLAY_IN_FLIGHT = 4;

export interface FragmentLike {
  id: string;
  model: string;
  status: "ok" | "failed" | "skipped";
  cache: "miss" | "hit" | "semantic" | "shared";
  cost_usd: number;
  latency_ms: number;
  hash: string;
  error?: { type: string; message: string };
}
export interface ReportLike {
  plan: { strategy: string; concurrency: number; reason: string };
  fragments: FragmentLike[];
  gaps: { fragment_id: string; reason: string }[];
  totals: { wall_ms: number; cost_usd: number };
}
export interface StrikeLike {
  model: string;
  cost_usd: number;
  fusion?: ReportLike;
  error?: { type: string; message: string };
}

/** One request as the client saw it. */
export interface Shot {
  ok: boolean;
  status: number;
  /** Client wall time, real ms. */
  ms: number;
  usd: number;
  body?: StrikeLike;
  text: string;
}

export interface Counters {
  /** Non-2xx answers, timeouts and connection errors. */
  failed: number;
  /** Fragments missing from answered requests (gaps). */
  gaps: number;
}

export interface WorkloadRun {
  /** Per measured request and path; undefined where the path was not run (qwen-70b: prompt too long). */
  shots: Record<PathName, Array<Shot | undefined>>;
}

export interface ReplayRun {
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

export interface LiveResult {
  split: WorkloadRun;
  mr: WorkloadRun;
  exact: ReplayRun;
  semantic: ReplayRun;
  counters: Counters;
  leaked: Array<{ allocation_id: string; pool_id?: string }>;
  emulator: { latency_scale: number; time_scale: number };
  callMs: number;
}

// ---------------------------------------------------------------------------------------------
// figures

export type SimWorkload = Awaited<ReturnType<typeof runWorkload>>;
type SimReplay = Awaited<ReturnType<typeof simulatedReplay>>;

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** The sample at rank ⌈q·n⌉ (nearest rank); the median is the sample at index ⌊n/2⌋, as in bench/fusion.ts. */
const quantile = (xs: number[], q: number) => {
  const s = sorted(xs);
  return s.length === 0 ? NaN : q === 0.5 ? s[Math.floor(s.length / 2)]! : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
export const median = (xs: number[]) => quantile(xs, 0.5);

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

export function report(opts: FusionLiveOptions, live: LiveResult, sim: { split: SimWorkload; mr: SimWorkload; exact: SimReplay; semantic: SimReplay; replayWhole: { whole: number; repeats: number; retyped: number }; models: { split: Array<Map<string, string>>; mr: Array<Map<string, string>> } }): string {
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

