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
import { looseForm, planFusion } from "../src/fusion";
import { modelCatalogue } from "../src/policy";
import type { ModelRoute, TaskLabel } from "../src/schema";
import { promptTokens } from "../workers/hostedai-emulator/src/textgen";
import { classification, planContext, plannedAs, replay as simulatedReplay, runWorkload } from "./fusion";
import { buildWorkloads, COMPLETION_SEED, CORPUS, LARGE, loadItems, random, REPLAY_SEED, replaySequence, ROUTES, WORKLOAD_SEED, type Workload } from "./lib/fusion-workload";
import { PATHS, REPLAY_IN_FLIGHT, report, type SimWorkload, type Counters, type FusionLiveOptions, type LiveResult, type PathName, type ReplayRun, type Shot, type StrikeLike, type WorkloadRun } from "./lib/fusion-live-report";
import { callJson, sleep } from "./lib/load";
import { withSystem, type LocalSystem } from "./lib/system";

export type { FusionLiveOptions };

const T0 = Date.now();
const progress = (line: string) => process.stderr.write(`[fusion-live +${((Date.now() - T0) / 1000).toFixed(0)}s] ${line}\n`);



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
  await callJson(`${emulator}/admin/config`, { method: "POST", body: JSON.stringify({ latency_scale: 1 / k, time_scale: k }) });
  const emulatorConfig = await callJson<{ latency_scale: number; time_scale: number }>(`${emulator}/admin/config`);
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
    await callJson(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id, ...COVENANT_BASE, fusion: fusionPolicy[key] }) });
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
  let admin = await callJson<AdminView>(`${emulator}/admin/allocations`);
  while (admin.allocations.length > 0 && Date.now() - started < graceS * 1000) {
    await sleep(500);
    admin = await callJson<AdminView>(`${emulator}/admin/allocations`);
  }
  if (admin.allocations.length > 0) progress(`${admin.allocations.length} allocation(s) still live ${graceS} s after every covenant was deleted`);
  else progress(`no allocation left on the emulator (${((Date.now() - started) / 1000).toFixed(1)} s after the covenants were deleted)`);
  return admin.allocations.map(({ allocation_id, pool_id }) => ({ allocation_id, ...(pool_id ? { pool_id } : {}) }));
}

// ---------------------------------------------------------------------------------------------
// plumbing


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
