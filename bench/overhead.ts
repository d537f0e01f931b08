// `npm run bench -- overhead`: what Homeskillet costs on top of calling Hosted.AI directly.
//
// With the emulators' simulated latency at zero, paths serve the same inference:
//   (a) floor   POST /api/v1/inference/<id> through bench/floor-worker, a pass-through worker:
//               the least any Workers gateway can cost;
//   (b) direct  the same request straight to the emulator;
//   (c) strike  POST /v1/strikes on the gateway (auth, validation, classification, covenant DO,
//               lease reuse, provider call): one upstream call per strike on a warm lease;
//   (d) seed    the same under a covenant with policy "seed": a fresh allocation per strike, so
//               three upstream calls (allocate, infer, release);
//   (e)–(k)     the OpenAI API (POST /v1/chat/completions), plain and streamed, on a warm lease
//               and on the local node (a covenant whose fallback is ["local"]), each against the
//               floor worker forwarding the same kind of request (streamed or not, to Hosted.AI
//               or to the local node);
//   (l) object  (a) through one Durable Object on the floor worker (`/object/…`): the edge parses
//               the body, the object calls the emulator and parses its answer. The least a gateway
//               with a Durable Object on the path can cost; strikes are also compared with it.
// Each is driven at several concurrencies, under wrangler dev and under Miniflare directly, and
// the ratio path/floor is Homeskillet's throughput relative to the floor, measured in the same run.
//
// `--target` picks which gateway serves the gateway paths: "gateway", the one the mode runs
// (wrangler dev, as `npm start`, or Miniflare), and/or "selfhost", the self-hosted gateway (`npm run
// selfhost`: workerd from npm, its objects on local disk) started against the same emulators.
// With both, each level measures both, one after the other, and the report compares them.
import { cpus } from "node:os";
import { runLoad, type LoadResult as Loaded, type LoadTarget } from "./lib/load";
import { cpuNow, cpuSince } from "./lib/proc-cpu";
import { startSelfhost, type Selfhost } from "./lib/selfhost";
import { withSystem, type LocalSystem, type StartOptions } from "./lib/system";

type Mode = "wrangler" | "miniflare";
/** A run's figures plus the CPU the runtime's processes spent on it, µs per 2xx response. */
type Measured = Loaded & { cpuUs: number };
type LoadResult = Measured;
/** The upstream paths: the floor worker's and the emulator's own, measured once per level. */
const UPSTREAM_PATHS = ["floor", "direct", "floor-stream", "floor-local", "floor-local-stream", "floor-object"] as const;
/** The gateway paths, measured once per target. */
const GATEWAY_PATHS = ["strike", "seed", "openai", "openai-stream", "openai-local", "openai-local-stream"] as const;
const PATHS = [...UPSTREAM_PATHS, ...GATEWAY_PATHS] as const;
type PathName = (typeof PATHS)[number];
type GatewayPath = (typeof GATEWAY_PATHS)[number];
/** What each path is measured against: the floor worker forwarding the same kind of request. */
const FLOOR_OF: Record<PathName, PathName> = {
  floor: "floor",
  direct: "floor",
  strike: "floor",
  seed: "floor",
  openai: "floor",
  "floor-stream": "floor-stream",
  "openai-stream": "floor-stream",
  "floor-local": "floor-local",
  "openai-local": "floor-local",
  "floor-local-stream": "floor-local-stream",
  "openai-local-stream": "floor-local-stream",
  "floor-object": "floor",
};
const LABEL: Record<PathName, string> = {
  floor: "(a) floor worker",
  direct: "(b) emulator direct",
  strike: "strike, warm lease",
  seed: "strike, seed policy",
  "floor-stream": "(e) floor worker, streamed",
  openai: "OpenAI chat, warm lease",
  "openai-stream": "OpenAI chat streamed, warm lease",
  "floor-local": "(h) floor worker → local node chat",
  "openai-local": "OpenAI chat, local node",
  "floor-local-stream": "(j) floor worker → local node chat, streamed",
  "openai-local-stream": "OpenAI chat streamed, local node",
  "floor-object": "(l) floor worker through a Durable Object",
};
/** Plain (not streamed) gateway paths to Hosted.AI: also compared with the object floor (l). */
const OBJECT_COMPARED: PathName[] = ["strike", "openai"];
const LETTER: Record<GatewayPath, string> = { strike: "c", seed: "d", openai: "f", "openai-stream": "g", "openai-local": "i", "openai-local-stream": "k" };
/** The default set: the original four paths and every OpenAI path with its floor. */
const DEFAULT_PATHS: PathName[] = [...PATHS];
const TARGETS = ["gateway", "selfhost"] as const;
export type TargetName = (typeof TARGETS)[number];

export interface OverheadOptions {
  modes: Mode[];
  levels: number[];
  durationS: number;
  timeoutS: number;
  /** how long strikes cut off at the end of a run get to release their allocations */
  leakGraceS: number;
  /**
   * Which key the strike paths use: the configured dev key, an issued key (`POST /v1/keys`, no
   * limits), or an issued key with limits far above what the bench can reach (its checks run, they
   * never refuse).
   */
  key: "dev" | "issued" | "limited";
  /** Which gateways serve the strike paths; the first is the one the summary line reports. */
  targets: TargetName[];
  /** Which paths run (each gateway path brings its floor along). */
  paths: PathName[];
  /** The gateway's HOMESKILLET_LOG_LEVEL; undefined: its default (info, every line). */
  logLevel?: "info" | "warn" | "off";
  /** replace workers' configs (used to exercise the bench itself against stand-ins) */
  configs?: StartOptions["configs"];
}

interface LevelResult {
  concurrency: number;
  /** the gateway paths are the first target's. */
  results: Partial<Record<PathName, LoadResult>>;
  byTarget: Partial<Record<TargetName, Partial<Record<GatewayPath, LoadResult>>>>;
}

interface ModeResult {
  mode: Mode;
  targets: TargetName[];
  paths: PathName[];
  levels: LevelResult[];
  leaked: Array<{ allocation_id: string; pool_id?: string }>;
  leakGraceS: number;
  counters: Record<string, number>;
}

const MODEL = "gemma-2b-it";
/** The integration document's example: a preemptible allocation on standard-us-east. */
const POOL = "standard-us-east";
const PROMPT = "Explain vGPU slicing in one sentence.";
const MAX_TOKENS = 16;
/** A covenant on the baseline policy: a fresh allocation, hence three upstream calls, per strike. */
const SEED_COVENANT = "bench-seed";
/** A covenant served by the local node: fallback ["local"]. */
const LOCAL_COVENANT = "bench-local";
const COVENANT_HEADER = "x-homeskillet-covenant";
// What the emulator knows the local system by (the gateway gets the same key).
const HOSTEDAI_API_KEY = "dev-hostedai-key";

export async function overhead(argv: string[]): Promise<void> {
  const opts = parseOptions(argv, process.env);
  const results = await runOverhead(opts);
  process.stdout.write(report(results, opts));
}

export async function runOverhead(opts: OverheadOptions): Promise<ModeResult[]> {
  const results: ModeResult[] = [];
  for (const mode of opts.modes) {
    progress(`${mode}: starting gateway, emulators and floor worker…`);
    const started = Date.now();
    const result = await withSystem(
      {
        mode,
        workers: ["hostedai", "localNode", ...(opts.targets.includes("gateway") ? (["gateway"] as const) : []), "floor"],
        // Free ports and throwaway state: a running `npm start` is left alone.
        ports: { gateway: 0, hostedai: 0, localNode: 0, floor: 0 },
        persist: false,
        emulatorVars: { LATENCY_SCALE: "0" },
        ...(opts.logLevel && { gatewayVars: { HOMESKILLET_LOG_LEVEL: opts.logLevel } }),
        quiet: true,
        ...(opts.configs && { configs: opts.configs }),
      },
      async (system) => {
        progress(`${mode}: up in ${Date.now() - started} ms`);
        let selfhost: Selfhost | undefined;
        try {
          if (opts.targets.includes("selfhost")) {
            progress(`${mode}: building and starting the self-hosted gateway against the same emulators…`);
            selfhost = await startSelfhost({ hostedai: system.hostedai!, localNode: system.localNode!, devKey: system.devKey, quiet: true });
            progress(`${mode}: self-hosted gateway up on ${selfhost.url}`);
          }
          const gateways: Partial<Record<TargetName, string>> = { gateway: system.gateway, selfhost: selfhost?.url };
          return await measureMode(mode, system, opts, gateways);
        } finally {
          await selfhost?.stop();
        }
      },
    );
    results.push(result);
  }
  return results;
}

async function measureMode(mode: Mode, system: LocalSystem, opts: OverheadOptions, gateways: Partial<Record<TargetName, string>>): Promise<ModeResult> {
  const emulator = system.hostedai!;
  // The env var already asks for zero latency; the admin call makes sure of it.
  await call(emulator, "/admin/config", { method: "POST", body: { latency_scale: 0 } });

  const { access_token: token } = await call<{ access_token: string }>(emulator, "/api/v1/auth/token", {
    method: "POST",
    body: { api_key: HOSTEDAI_API_KEY },
  });
  // Long enough for every run, warm-up and drain, with room to spare: it must not expire mid-bench.
  const totalS = opts.levels.length * opts.paths.length * opts.targets.length * (opts.durationS + 15) + 600;
  const allocation = await call<{ allocation_id: string }>(emulator, "/api/v1/allocations", {
    method: "POST",
    token,
    body: {
      pool_id: POOL,
      requirements: { min_tflops: 5, min_vram_mb: 2048 },
      duration_seconds: totalS,
      preemptible: true,
      metadata: { tenant_id: "bench", workload_id: "bench-overhead" },
    },
  });

  const inference = { model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0 };
  // No temperature: OpenAI's default (1), so the answer cache (temperature 0 only, by default) stays out of it.
  const chat = { model: MODEL, messages: [{ role: "user", content: PROMPT }], max_tokens: MAX_TOKENS };
  const upstreamHeaders = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const json = { "content-type": "application/json" };
  const inferUrl = (base: string) => `${base}/api/v1/inference/${allocation.allocation_id}`;
  const upstream: Record<(typeof UPSTREAM_PATHS)[number], LoadTarget> = {
    floor: { url: inferUrl(system.floor!), method: "POST", headers: upstreamHeaders, body: JSON.stringify(inference) },
    direct: { url: inferUrl(emulator), method: "POST", headers: upstreamHeaders, body: JSON.stringify(inference) },
    "floor-stream": { url: inferUrl(system.floor!), method: "POST", headers: upstreamHeaders, body: JSON.stringify({ ...inference, stream: true }) },
    "floor-local": { url: `${system.floor}/local/v1/chat/completions`, method: "POST", headers: json, body: JSON.stringify(chat) },
    "floor-local-stream": { url: `${system.floor}/local/v1/chat/completions`, method: "POST", headers: json, body: JSON.stringify({ ...chat, stream: true }) },
    "floor-object": { url: inferUrl(`${system.floor!}/object`), method: "POST", headers: upstreamHeaders, body: JSON.stringify(inference) },
  };
  // The gateway paths on each gateway: its own key, its own seed and local covenants.
  const gatewayTargets = {} as Record<TargetName, Record<GatewayPath, LoadTarget>>;
  for (const target of opts.targets) {
    const base = gateways[target];
    if (!base) throw new Error(`target ${target} was not started`);
    const strikeKey = await keyFor(base, system.devKey, opts.key);
    const headers = { authorization: `Bearer ${strikeKey}`, "content-type": "application/json" };
    const local = { ...headers, [COVENANT_HEADER]: LOCAL_COVENANT };
    const chatUrl = `${base}/v1/chat/completions`;
    gatewayTargets[target] = {
      strike: { url: `${base}/v1/strikes`, method: "POST", headers, body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }) },
      seed: { url: `${base}/v1/strikes`, method: "POST", headers, body: JSON.stringify({ covenant_id: SEED_COVENANT, model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }) },
      openai: { url: chatUrl, method: "POST", headers, body: JSON.stringify(chat) },
      "openai-stream": { url: chatUrl, method: "POST", headers, body: JSON.stringify({ ...chat, stream: true }) },
      "openai-local": { url: chatUrl, method: "POST", headers: local, body: JSON.stringify(chat) },
      "openai-local-stream": { url: chatUrl, method: "POST", headers: local, body: JSON.stringify({ ...chat, stream: true }) },
    };
    for (const covenant of [{ id: SEED_COVENANT, policy: "seed" }, { id: LOCAL_COVENANT, fallback: ["local"] }]) {
      await fetch(`${base}/v1/covenants`, {
        method: "POST",
        headers: { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" },
        body: JSON.stringify(covenant),
      });
    }
  }
  // Every run of a level, in order: the upstream paths, then each target's gateway paths.
  const wanted = new Set(opts.paths);
  const runs: Array<{ name: string; target?: TargetName; path: PathName; load: LoadTarget }> = [
    ...UPSTREAM_PATHS.filter((p) => wanted.has(p)).map((path) => ({ name: path, path, load: upstream[path] })),
    ...opts.targets.flatMap((target) =>
      GATEWAY_PATHS.filter((p) => wanted.has(p)).map((path) => ({ name: opts.targets.length > 1 ? `${target} ${path}` : path, target, path, load: gatewayTargets[target][path] })),
    ),
  ];

  try {
    // One request each first: a broken path is reported plainly instead of as a wall of errors,
    // and the first strike (token, allocation, lease) is not part of the measurement.
    for (const run of runs) await preflight(mode, run.name, run.load);
    const warmS = Math.min(2, Math.max(1, Math.floor(opts.durationS / 5)));
    for (const run of runs) await runLoad(run.load, { connections: 10, durationS: warmS, timeoutS: opts.timeoutS });
    await settle(mode, emulator);

    const levels: LevelResult[] = [];
    for (const concurrency of opts.levels) {
      const results: LevelResult["results"] = {};
      const byTarget: LevelResult["byTarget"] = {};
      for (const run of runs) {
        const cpuBefore = cpuNow();
        const loaded = await runLoad(run.load, { connections: concurrency, durationS: opts.durationS, timeoutS: opts.timeoutS });
        // The runtime's CPU until the work the run started has drained, per answered request.
        await settle(mode, emulator);
        const r: Measured = { ...loaded, cpuUs: loaded.ok > 0 ? (cpuSince(cpuBefore) * 1e6) / loaded.ok : Number.NaN };
        if (run.target) {
          (byTarget[run.target] ??= {})[run.path as GatewayPath] = r;
          if (run.target === opts.targets[0]) results[run.path] = r;
        } else results[run.path] = r;
        progress(`${mode}: c=${concurrency} ${run.name}: ${r.rps.toFixed(0)} req/s, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms, errors ${r.errors}, runtime CPU ${fmtUs(r.cpuUs)} µs/req`);
      }
      levels.push({ concurrency, results, byTarget });
    }
    return {
      mode,
      targets: opts.targets,
      paths: opts.paths,
      levels,
      leakGraceS: opts.leakGraceS,
      ...(await leakCheck(mode, emulator, token, allocation.allocation_id, opts.leakGraceS)),
    };
  } catch (err) {
    await release(emulator, token, allocation.allocation_id).catch(() => {});
    throw err;
  }
}

// When a run ends, autocannon drops its connections but the work they started goes on (the
// emulator's Durable Object may hold a long queue at concurrency 1000). The next run starts only
// once the emulator answers promptly again, so runs do not pay for each other's backlog.
async function settle(mode: Mode, emulator: string): Promise<void> {
  const started = Date.now();
  let prompt = 0;
  while (prompt < 3 && Date.now() - started < 60_000) {
    const t0 = performance.now();
    await call(emulator, "/admin/config").catch(() => {});
    prompt = performance.now() - t0 < 50 ? prompt + 1 : 0;
    await sleep(100);
  }
  const waited = Date.now() - started;
  if (waited > 2000) progress(`${mode}: waited ${(waited / 1000).toFixed(1)} s for the emulator to drain`);
}

async function preflight(mode: Mode, path: string, target: LoadTarget): Promise<void> {
  const res = await fetch(target.url, {
    method: target.method ?? "GET",
    headers: target.headers ?? {},
    body: target.body ?? null,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) progress(`${mode}: warning: ${path} answered ${res.status}: ${text.slice(0, 300)}`);
}

type AdminView = Record<string, unknown> & { allocations: Array<{ allocation_id: string; pool_id?: string }> };

// The bench releases its own allocation first; any allocation still live afterwards was left
// behind by the system under test. Strikes cut off when a run ends may still be cleaning up
// (release retried by alarm), so the count is taken after they have had `graceS` to finish.
async function leakCheck(mode: Mode, emulator: string, token: string, ownId: string, graceS: number) {
  await release(emulator, token, ownId);
  const started = Date.now();
  let admin = await call<AdminView>(emulator, "/admin/allocations");
  while (admin.allocations.length > 0 && Date.now() - started < graceS * 1000) {
    await sleep(1000);
    admin = await call<AdminView>(emulator, "/admin/allocations");
  }
  if (admin.allocations.length) progress(`${mode}: ${admin.allocations.length} allocation(s) still live after ${graceS} s`);
  const counters: Record<string, number> = {};
  for (const [key, value] of Object.entries(admin)) if (typeof value === "number") counters[key] = value;
  return {
    leaked: admin.allocations.map(({ allocation_id, pool_id }) => ({ allocation_id, ...(pool_id && { pool_id }) })),
    counters,
  };
}

async function release(emulator: string, token: string, id: string): Promise<void> {
  await call(emulator, `/api/v1/allocations/${id}`, { method: "DELETE", token });
}

async function call<T = unknown>(base: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(base + path, {
    method: init.method ?? "GET",
    headers: {
      ...(init.body !== undefined && { "content-type": "application/json" }),
      ...(init.token && { authorization: `Bearer ${init.token}` }),
    },
    body: init.body === undefined ? null : JSON.stringify(init.body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${base}${path} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

// ---------------------------------------------------------------------------------------------
// report

export function report(modes: ModeResult[], opts: OverheadOptions): string {
  const out: string[] = [];
  out.push(
    `## Overhead: strike vs floor vs direct`,
    ``,
    `${new Date().toISOString().slice(0, 10)} · ${opts.durationS} s per run · emulator latency_scale 0 · ` +
      `${MODEL}, max_tokens ${MAX_TOKENS} · gateway log level ${opts.logLevel ?? "info (default)"} · ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? "unknown"}) · Node ${process.versions.node}`,
    ``,
  );
  for (const m of modes) {
    const modeName = m.mode === "wrangler" ? "wrangler dev" : "Miniflare, direct sockets";
    const targetName = (t: TargetName) => (t === "gateway" ? `gateway (${m.mode === "wrangler" ? "wrangler dev" : "Miniflare"})` : "self-hosted gateway (workerd)");
    out.push(
      `### ${modeName}${m.targets.includes("selfhost") ? ", and the self-hosted gateway against the same emulators" : ""}`,
      ``,
      `| concurrency | path | req/s | p50 ms | p99 ms | errors | req/s vs floor | runtime CPU µs/req | CPU over floor µs/req |`,
      `| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    );
    for (const level of m.levels) {
      const ratio = (path: PathName, r: LoadResult) => r.rps / (level.results[FLOOR_OF[path]]?.rps ?? NaN);
      const rows: Array<[string, PathName, LoadResult | undefined]> = [
        ...UPSTREAM_PATHS.map((p): [string, PathName, LoadResult | undefined] => [LABEL[p], p, level.results[p]]),
        ...m.targets.flatMap((t) =>
          GATEWAY_PATHS.map((p): [string, PathName, LoadResult | undefined] => [
            `(${LETTER[p]}) ${m.targets.length > 1 || t !== "gateway" ? targetName(t) : "gateway"} ${LABEL[p]}`,
            p,
            level.byTarget[t]?.[p],
          ]),
        ),
      ];
      rows.sort((a, b) => a[0].localeCompare(b[0]));
      for (const [label, path, r] of rows) {
        if (!r) continue;
        const floorCpu = level.results[FLOOR_OF[path]]?.cpuUs ?? NaN;
        const over = path === FLOOR_OF[path] ? "" : fmtUs(r.cpuUs - floorCpu);
        out.push(
          `| ${level.concurrency} | ${label} | ${r.rps.toFixed(0)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtErrors(r)} | ${fmtRatio(ratio(path, r))} | ${fmtUs(r.cpuUs)} | ${over} |`,
        );
      }
    }
    if (m.targets.includes("gateway") && m.targets.includes("selfhost")) {
      out.push(
        ``,
        `Self-hosted over ${targetName("gateway")}, warm-lease strikes (ratios > 1: the self-hosted one serves more, or takes longer):`,
        ``,
        `| concurrency | req/s ${m.mode} | req/s self-hosted | req/s ratio | p50 ms ${m.mode} | p50 ms self-hosted | p50 ratio |`,
        `| ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
      );
      for (const level of m.levels) {
        const g = level.byTarget.gateway?.strike;
        const h = level.byTarget.selfhost?.strike;
        if (!g || !h) continue;
        out.push(`| ${level.concurrency} | ${g.rps.toFixed(0)} | ${h.rps.toFixed(0)} | ${fmtRatio(h.rps / g.rps)} | ${fmtMs(g.p50)} | ${fmtMs(h.p50)} | ${fmtRatio(h.p50 / g.p50)} |`);
      }
    }
    const c1 = m.levels.find((l) => l.concurrency === 1);
    out.push(``);
    if (c1) {
      const over = GATEWAY_PATHS.flatMap((p) => {
        const r = c1.results[p];
        const f = c1.results[FLOOR_OF[p]];
        return r && f ? [`${fmtSigned(r.p50 - f.p50)} ms ${LABEL[p]}`] : [];
      });
      if (over.length) out.push(`p50 over the matching floor's p50 at concurrency 1: ${over.join("; ")}.`);
    }
    const againstObject = m.levels.flatMap((l) => {
      const o = l.results["floor-object"];
      return o
        ? OBJECT_COMPARED.flatMap((p) => {
            const r = l.results[p];
            return r ? [`${LABEL[p]} at ${l.concurrency}: ${fmtRatio(r.rps / o.rps)}× its req/s, ${fmtSigned(r.p50 - o.p50)} ms p50, ${fmtUs(r.cpuUs - o.cpuUs)} µs CPU more`] : [];
          })
        : [];
    });
    if (againstObject.length) out.push(``, `Against the object floor (l): ${againstObject.join("; ")}.`);
    const counters = Object.entries(m.counters).map(([k, v]) => `${k} ${v}`).join(", ");
    const shown = m.leaked.slice(0, 5).map((a) => `${a.allocation_id}${a.pool_id ? ` on ${a.pool_id}` : ""}`);
    if (m.leaked.length > shown.length) shown.push(`${m.leaked.length - shown.length} more`);
    out.push(
      `Leaked allocations (live ${m.leakGraceS} s after the last run; the bench's own released): ${m.leaked.length}` +
        (shown.length ? ` (${shown.join(", ")})` : "") +
        (counters ? `. Emulator counters: ${counters}.` : "."),
      ``,
    );
  }
  out.push(summaryLine(modes, opts), ``);
  return out.join("\n");
}

// The one machine-readable line: wrangler-mode figures at concurrency 100 (or the first mode
// and the level closest to 100 when those were not run); errors over every run of every mode.
export function summaryLine(modes: ModeResult[], opts: OverheadOptions): string {
  const main = modes.find((m) => m.mode === "wrangler") ?? modes[0]!;
  const at = (c: number) => main.levels.reduce((best, l) => (Math.abs(l.concurrency - c) < Math.abs(best.concurrency - c) ? l : best));
  const headline = at(100).results;
  const lowest = at(1).results;
  const errors = modes
    .flatMap((m) => m.levels.flatMap((l) => [...UPSTREAM_PATHS.map((p) => l.results[p]), ...Object.values(l.byTarget).flatMap((t) => Object.values(t))]))
    .reduce((a, r) => a + (r?.errors ?? 0), 0);
  const rps = (r: LoadResult | undefined) => (r ? r.rps.toFixed(1) : "–");
  const ratio = (p: PathName) => {
    const r = headline[p];
    const f = headline[FLOOR_OF[p]];
    return r && f ? (r.rps / f.rps).toFixed(3) : "–";
  };
  const over = lowest.strike && lowest.floor ? (lowest.strike.p50 - lowest.floor.p50).toFixed(2) : "–";
  return (
    `floor_rps=${rps(headline.floor)} strike_rps=${rps(headline.strike)} ratio=${ratio("strike")} seed_ratio=${ratio("seed")} ` +
    `openai_ratio=${ratio("openai")} openai_stream_ratio=${ratio("openai-stream")} ` +
    `local_ratio=${ratio("openai-local")} local_stream_ratio=${ratio("openai-local-stream")} ` +
    `overhead_p50_ms=${over} errors=${errors} concurrency=${Math.max(...opts.levels)} ` +
    `object_floor_ratio=${ratio("floor-object")} strike_object_ratio=${headline.strike && headline["floor-object"] ? (headline.strike.rps / headline["floor-object"].rps).toFixed(3) : "–"}`
  );
}

function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) : "–";
}
function fmtSigned(ms: number): string {
  return Number.isFinite(ms) ? `${ms >= 0 ? "+" : ""}${ms.toFixed(2)}` : "–";
}
/** µs per request; "–" when no request was answered (a run shorter than the backlog it built). */
function fmtUs(x: number): string {
  return Number.isFinite(x) ? x.toFixed(0) : "–";
}
function fmtRatio(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : "–";
}
function fmtErrors(r: LoadResult): string {
  if (!r.errors) return "0";
  return `${r.errors} (${Object.entries(r.errorKinds).map(([k, n]) => `${k}: ${n}`).join(", ")})`;
}

// ---------------------------------------------------------------------------------------------
// options: flags win over env, env over defaults

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): OverheadOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    flags.set(m[1]!, value);
  }
  for (const key of flags.keys()) {
    if (!["modes", "levels", "duration", "timeout", "leak-grace", "key", "target", "paths", "log-level"].includes(key)) throw new Error(`unknown option --${key}`);
  }
  const pick = (flag: string, envName: string, fallback: string) => flags.get(flag) ?? env[envName] ?? fallback;
  const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);

  const modes = list(pick("modes", "BENCH_MODES", "wrangler,miniflare"));
  for (const m of modes) if (m !== "wrangler" && m !== "miniflare") throw new Error(`unknown mode ${m}`);
  const levels = list(pick("levels", "BENCH_LEVELS", "1,100,1000")).map(Number);
  if (!levels.length || levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--levels must be positive integers`);
  const durationS = Number(pick("duration", "BENCH_DURATION", "10"));
  const timeoutS = Number(pick("timeout", "BENCH_TIMEOUT", "30"));
  const leakGraceS = Number(pick("leak-grace", "BENCH_LEAK_GRACE", "30"));
  if (!(durationS > 0) || !(timeoutS > 0)) throw new Error(`--duration and --timeout must be positive seconds`);
  if (!(leakGraceS >= 0)) throw new Error(`--leak-grace must be seconds >= 0`);
  if (!modes.length) throw new Error(`--modes is empty`);
  const key = pick("key", "BENCH_KEY", "dev");
  if (key !== "dev" && key !== "issued" && key !== "limited") throw new Error(`--key must be dev, issued or limited`);
  const targets = [...new Set(list(pick("target", "BENCH_TARGET", "gateway")))];
  if (!targets.length || targets.some((t) => !(TARGETS as readonly string[]).includes(t))) throw new Error(`--target must list gateway and/or selfhost`);
  const asked = list(pick("paths", "BENCH_PATHS", DEFAULT_PATHS.join(",")));
  for (const p of asked) if (!(PATHS as readonly string[]).includes(p)) throw new Error(`unknown path ${p} (known: ${PATHS.join(", ")})`);
  // Every path brings the floor it is measured against; plain gateway paths the object floor too.
  const chosen = new Set<PathName>((asked as PathName[]).flatMap((p) => [FLOOR_OF[p], p, ...(OBJECT_COMPARED.includes(p) ? ["floor-object" as const] : [])]));
  const paths = PATHS.filter((p) => chosen.has(p));
  const logLevel = flags.get("log-level") ?? env.BENCH_LOG_LEVEL;
  if (logLevel !== undefined && logLevel !== "info" && logLevel !== "warn" && logLevel !== "off") throw new Error(`--log-level must be info, warn or off`);
  return { modes: modes as Mode[], levels, durationS, timeoutS, leakGraceS, key, targets: targets as TargetName[], paths, ...(logLevel && { logLevel }) };
}

/** The key the strike paths send: the dev key itself, or one it issues. */
async function keyFor(gateway: string, devKey: string, kind: OverheadOptions["key"]): Promise<string> {
  if (kind === "dev") return devKey;
  const limits = kind === "limited" ? { requests_per_minute: 1_000_000, tokens_per_minute: 1_000_000_000, max_concurrent: 100_000 } : undefined;
  const res = await fetch(`${gateway}/v1/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: `bench-${kind}`, scopes: ["strike", "covenants:write"], ...(limits && { limits }) }),
  });
  if (res.status !== 201) throw new Error(`issuing the bench's key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

function progress(line: string): void {
  process.stderr.write(`[overhead] ${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
