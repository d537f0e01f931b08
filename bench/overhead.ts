// `npm run bench -- overhead`: what Homeskillet costs on top of calling Hosted.AI directly.
//
// With the emulator's simulated latency at zero, three paths serve the same inference:
//   (a) floor   POST /api/v1/inference/<id> through bench/floor-worker, a pass-through worker:
//               the least any Workers gateway can cost;
//   (b) direct  the same request straight to the emulator;
//   (c) strike  POST /v1/strikes on the gateway (auth, validation, classification, covenant DO,
//               lease reuse, provider call): one upstream call per strike on a warm lease;
//   (d) seed    the same under a covenant with policy "seed": a fresh allocation per strike, so
//               three upstream calls (allocate, infer, release).
// Each is driven at several concurrencies, under wrangler dev and under Miniflare directly, and
// the ratio c/a is Homeskillet's throughput relative to the floor, measured in the same run.
import { cpus } from "node:os";
import { runLoad, type LoadResult, type LoadTarget } from "./lib/load";
import { withSystem, type LocalSystem, type StartOptions } from "./lib/system";

type Mode = "wrangler" | "miniflare";
const PATHS = ["floor", "direct", "strike", "seed"] as const;
type PathName = (typeof PATHS)[number];

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
  /** replace workers' configs (used to exercise the bench itself against stand-ins) */
  configs?: StartOptions["configs"];
}

interface LevelResult {
  concurrency: number;
  results: Record<PathName, LoadResult>;
}

interface ModeResult {
  mode: Mode;
  levels: LevelResult[];
  leaked: Array<{ allocation_id: string; pool_id?: string }>;
  leakGraceS: number;
  counters: Record<string, number>;
}

const MODEL = "gemma-2b-it";
const POOL = "preemptible-us-east";
const PROMPT = "Explain vGPU slicing in one sentence.";
const MAX_TOKENS = 16;
/** A covenant on the baseline policy: a fresh allocation, hence three upstream calls, per strike. */
const SEED_COVENANT = "bench-seed";
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
        workers: ["hostedai", "localNode", "gateway", "floor"],
        // Free ports and throwaway state: a running `npm start` is left alone.
        ports: { gateway: 0, hostedai: 0, localNode: 0, floor: 0 },
        persist: false,
        emulatorVars: { LATENCY_SCALE: "0" },
        quiet: true,
        ...(opts.configs && { configs: opts.configs }),
      },
      async (system) => {
        progress(`${mode}: up in ${Date.now() - started} ms`);
        return measureMode(mode, system, opts);
      },
    );
    results.push(result);
  }
  return results;
}

async function measureMode(mode: Mode, system: LocalSystem, opts: OverheadOptions): Promise<ModeResult> {
  const emulator = system.hostedai!;
  // The env var already asks for zero latency; the admin call makes sure of it.
  await call(emulator, "/admin/config", { method: "POST", body: { latency_scale: 0 } });

  const { access_token: token } = await call<{ access_token: string }>(emulator, "/api/v1/auth/token", {
    method: "POST",
    body: { api_key: HOSTEDAI_API_KEY },
  });
  // Long enough for every run, warm-up and drain, with room to spare: it must not expire mid-bench.
  const totalS = opts.levels.length * PATHS.length * (opts.durationS + 15) + 600;
  const allocation = await call<{ allocation_id: string }>(emulator, "/api/v1/allocations", {
    method: "POST",
    token,
    body: {
      pool_id: POOL,
      requirements: { min_tflops: 5, min_vram_mb: 2048 },
      duration_seconds: totalS,
      preemptible: true,
      metadata: { purpose: "bench-overhead" },
    },
  });

  const strikeKey = await keyFor(system.gateway!, system.devKey, opts.key);
  const inference = JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0 });
  const upstreamHeaders = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const targets: Record<PathName, LoadTarget> = {
    floor: { url: `${system.floor}/api/v1/inference/${allocation.allocation_id}`, method: "POST", headers: upstreamHeaders, body: inference },
    direct: { url: `${emulator}/api/v1/inference/${allocation.allocation_id}`, method: "POST", headers: upstreamHeaders, body: inference },
    strike: {
      url: `${system.gateway}/v1/strikes`,
      method: "POST",
      headers: { authorization: `Bearer ${strikeKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }),
    },
    seed: {
      url: `${system.gateway}/v1/strikes`,
      method: "POST",
      headers: { authorization: `Bearer ${strikeKey}`, "content-type": "application/json" },
      body: JSON.stringify({ covenant_id: SEED_COVENANT, model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }),
    },
  };
  await fetch(`${system.gateway}/v1/covenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" },
    body: JSON.stringify({ id: SEED_COVENANT, policy: "seed" }),
  });

  try {
    // One request each first: a broken path is reported plainly instead of as a wall of errors,
    // and the first strike (token, allocation, lease) is not part of the measurement.
    for (const path of PATHS) await preflight(mode, path, targets[path]);
    const warmS = Math.min(2, Math.max(1, Math.floor(opts.durationS / 5)));
    for (const path of PATHS) await runLoad(targets[path], { connections: 10, durationS: warmS, timeoutS: opts.timeoutS });
    await settle(mode, emulator);

    const levels: LevelResult[] = [];
    for (const concurrency of opts.levels) {
      const results = {} as Record<PathName, LoadResult>;
      for (const path of PATHS) {
        results[path] = await runLoad(targets[path], { connections: concurrency, durationS: opts.durationS, timeoutS: opts.timeoutS });
        const r = results[path];
        progress(
          `${mode}: c=${concurrency} ${path}: ${r.rps.toFixed(0)} req/s, p50 ${fmtMs(r.p50)} ms, p99 ${fmtMs(r.p99)} ms, errors ${r.errors}`,
        );
        await settle(mode, emulator);
      }
      levels.push({ concurrency, results });
    }
    return { mode, levels, leakGraceS: opts.leakGraceS, ...(await leakCheck(mode, emulator, token, allocation.allocation_id, opts.leakGraceS)) };
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

async function preflight(mode: Mode, path: PathName, target: LoadTarget): Promise<void> {
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
      `${MODEL}, max_tokens ${MAX_TOKENS} · ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? "unknown"}) · Node ${process.versions.node}`,
    ``,
  );
  for (const m of modes) {
    out.push(
      `### ${m.mode === "wrangler" ? "wrangler dev" : "Miniflare, direct sockets"}`,
      ``,
      `| concurrency | path | req/s | p50 ms | p99 ms | errors | req/s vs floor |`,
      `| ---: | --- | ---: | ---: | ---: | ---: | ---: |`,
    );
    for (const level of m.levels) {
      const floor = level.results.floor;
      for (const path of PATHS) {
        const r = level.results[path];
        const label = {
          floor: "(a) floor worker",
          direct: "(b) emulator direct",
          strike: "(c) gateway strike, warm lease",
          seed: "(d) gateway strike, seed policy",
        }[path];
        out.push(
          `| ${level.concurrency} | ${label} | ${r.rps.toFixed(0)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtErrors(r)} | ${fmtRatio(r.rps / floor.rps)} |`,
        );
      }
    }
    const c1 = m.levels.find((l) => l.concurrency === 1);
    out.push(``);
    if (c1) {
      out.push(
        `Strike p50 over floor p50 at concurrency 1: ${fmtSigned(c1.results.strike.p50 - c1.results.floor.p50)} ms on a warm lease, ` +
          `${fmtSigned(c1.results.seed.p50 - c1.results.floor.p50)} ms under the seed policy.`,
      );
    }
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
  const errors = modes.flatMap((m) => m.levels.flatMap((l) => PATHS.map((p) => l.results[p].errors))).reduce((a, b) => a + b, 0);
  return (
    `floor_rps=${headline.floor.rps.toFixed(1)} strike_rps=${headline.strike.rps.toFixed(1)} ` +
    `ratio=${(headline.strike.rps / headline.floor.rps).toFixed(3)} ` +
    `seed_ratio=${(headline.seed.rps / headline.floor.rps).toFixed(3)} ` +
    `overhead_p50_ms=${(lowest.strike.p50 - lowest.floor.p50).toFixed(2)} errors=${errors} concurrency=${Math.max(...opts.levels)}`
  );
}

function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) : "–";
}
function fmtSigned(ms: number): string {
  return Number.isFinite(ms) ? `${ms >= 0 ? "+" : ""}${ms.toFixed(2)}` : "–";
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
    if (!["modes", "levels", "duration", "timeout", "leak-grace", "key"].includes(key)) throw new Error(`unknown option --${key}`);
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
  return { modes: modes as Mode[], levels, durationS, timeoutS, leakGraceS, key };
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
