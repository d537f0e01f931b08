// `npm run bench -- telemetry`: what tracing and metrics cost on the strike hot path.
//
// Two local systems run side by side, identical but for their telemetry:
//   on   tracing exported over OTLP/HTTP to a receiver this bench runs on loopback, metrics on;
//   off  no OTLP endpoint (spans are not recorded) and HOMESKILLET_METRICS=off.
// Each has its own Hosted.AI emulator (latency 0) and floor worker. At each concurrency the bench
// runs, for several rounds in alternating order: the floor, strikes on the "off" gateway, strikes
// on the "on" gateway. Medians over the rounds give the figures; the gateway's overhead is its time
// minus the floor's, and the goal is that telemetry adds less than 5 % to that overhead.
import { cpus } from "node:os";
import { runLoad, type LoadResult as Loaded, type LoadTarget } from "./lib/load";
import { cpuNow, cpuSince } from "./lib/proc-cpu";

/** A run's figures plus the runtime's CPU per 2xx response (µs): every process the bench started. */
type LoadResult = Loaded & { cpuUs: number };
/** Spans wait this long to share an export (OTEL_BSP_SCHEDULE_DELAY's default): a run's CPU includes its exports. */
const EXPORT_DELAY_MS = 1000;
import { startOtlpReceiver, type OtlpReceiver } from "./lib/otlp-receiver";
import { withSystem, type LocalSystem, type StartOptions } from "./lib/system";

type Variant = "off" | "on";
const PATHS = ["floor", "off", "on"] as const;
type PathName = (typeof PATHS)[number];

export interface TelemetryBenchOptions {
  mode: "miniflare" | "wrangler";
  /** What the "on" system turns on (both by default; one alone attributes the cost). */
  on: Array<"tracing" | "metrics">;
  /** Share of traces recorded with tracing on (OTEL_TRACES_SAMPLER_ARG); 1 records every strike. */
  sample: number;
  levels: number[];
  rounds: number;
  durationS: number;
  timeoutS: number;
}

interface LevelFigures {
  concurrency: number;
  /** Every round's run, per path. */
  runs: Record<PathName, LoadResult[]>;
}

const MODEL = "gemma-2b-it";
/** The integration document's example: a preemptible allocation on standard-us-east. */
const POOL = "standard-us-east";
const PROMPT = "Explain vGPU slicing in one sentence.";
const MAX_TOKENS = 16;
const HOSTEDAI_API_KEY = "dev-hostedai-key";
/** The share of the gateway's overhead telemetry may take (issue #8). */
const GOAL_SHARE = 0.05;

export async function run(argv: string[]): Promise<void> {
  const opts = parseOptions(argv, process.env);
  const receiver = await startOtlpReceiver({ keepSpans: false });
  try {
    const started = Date.now();
    progress(`starting two systems (${opts.mode}): ${opts.on.join(" + ")} on, and telemetry off…`);
    const onVars = {
      ...(opts.on.includes("tracing") && { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER_ARG: String(opts.sample) }),
      ...(!opts.on.includes("metrics") && { HOMESKILLET_METRICS: "off" }),
    };
    const levels = await withSystem(systemOptions(opts, onVars), (on) =>
      withSystem(systemOptions(opts, { HOMESKILLET_METRICS: "off" }), async (off) => {
        progress(`up in ${Date.now() - started} ms`);
        return measure({ on: await prepare(on), off: await prepare(off) }, opts);
      }),
    );
    process.stdout.write(report(levels, receiver, opts));
  } finally {
    await receiver.close();
  }
}

function systemOptions(opts: TelemetryBenchOptions, gatewayVars: Record<string, string>): StartOptions {
  return {
    mode: opts.mode,
    workers: ["hostedai", "localNode", "gateway", "floor"],
    ports: { gateway: 0, hostedai: 0, localNode: 0, floor: 0 },
    persist: false,
    quiet: true,
    emulatorVars: { LATENCY_SCALE: "0" },
    gatewayVars,
  };
}

interface Prepared {
  emulator: string;
  floor: LoadTarget;
  strike: LoadTarget;
}

/** A token and one long-lived allocation for the floor path; the strike path as a client sends it. */
async function prepare(system: LocalSystem): Promise<Prepared> {
  const emulator = system.hostedai!;
  await call(emulator, "/admin/config", { method: "POST", body: { latency_scale: 0 } });
  const { access_token: token } = await call<{ access_token: string }>(emulator, "/api/v1/auth/token", { method: "POST", body: { api_key: HOSTEDAI_API_KEY } });
  const allocation = await call<{ allocation_id: string }>(emulator, "/api/v1/allocations", {
    method: "POST",
    token,
    body: { pool_id: POOL, requirements: { min_tflops: 5, min_vram_mb: 2048 }, duration_seconds: 3600, preemptible: true, metadata: { tenant_id: "bench", workload_id: "bench-telemetry" } },
  });
  return {
    emulator,
    floor: {
      url: `${system.floor}/api/v1/inference/${allocation.allocation_id}`,
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS, temperature: 0 }),
    },
    strike: {
      url: `${system.gateway}/v1/strikes`,
      method: "POST",
      headers: { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }),
    },
  };
}

async function measure(systems: Record<Variant, Prepared>, opts: TelemetryBenchOptions): Promise<LevelFigures[]> {
  const targets: Record<PathName, { target: LoadTarget; emulator: string }> = {
    // One floor suffices: both systems run the same floor worker and emulator code.
    floor: { target: systems.off.floor, emulator: systems.off.emulator },
    off: { target: systems.off.strike, emulator: systems.off.emulator },
    on: { target: systems.on.strike, emulator: systems.on.emulator },
  };
  for (const path of PATHS) await preflight(path, targets[path].target);
  for (const path of PATHS) await runLoad(targets[path].target, { connections: 8, durationS: 2, timeoutS: opts.timeoutS });
  const levels: LevelFigures[] = [];
  for (const concurrency of opts.levels) {
    const runs: Record<PathName, LoadResult[]> = { floor: [], off: [], on: [] };
    for (let round = 0; round < opts.rounds; round++) {
      // Alternate the order, so neither variant always runs on a machine the other just warmed.
      const order: PathName[] = round % 2 === 0 ? ["floor", "off", "on"] : ["on", "off", "floor"];
      for (const path of order) {
        await settle(targets[path].emulator);
        const cpuBefore = cpuNow();
        const loaded = await runLoad(targets[path].target, { connections: concurrency, durationS: opts.durationS, timeoutS: opts.timeoutS });
        // The work the run started (its last spans' export included) is over before the CPU is read.
        await settle(targets[path].emulator);
        await new Promise((resolve) => setTimeout(resolve, EXPORT_DELAY_MS + 200));
        const r: LoadResult = { ...loaded, cpuUs: (cpuSince(cpuBefore) * 1e6) / Math.max(1, loaded.ok) };
        runs[path].push(r);
        progress(`c=${concurrency} round ${round + 1}/${opts.rounds} ${path}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}, runtime CPU ${r.cpuUs.toFixed(0)} µs/req`);
      }
    }
    levels.push({ concurrency, runs });
  }
  return levels;
}

// ---------------------------------------------------------------------------------------------
// figures

export interface Summary {
  concurrency: number;
  floor: { rps: number; p50: number; p99: number; cpuUs: number };
  off: { rps: number; p50: number; p99: number; cpuUs: number };
  on: { rps: number; p50: number; p99: number; cpuUs: number };
  errors: number;
  /** Telemetry's added p50 latency as a share of the gateway's own p50 overhead over the floor. */
  shareP50: number;
  /** The same in time per request at the measured throughput (1 / req/s). */
  shareThroughput: number;
  /** The same in the runtime's CPU per request: (on − off) / (off − floor). */
  shareCpu: number;
  rpsRatio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarise(level: LevelFigures): Summary {
  const fig = (rs: LoadResult[]) => ({ rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), cpuUs: median(rs.map((r) => r.cpuUs)) });
  const floor = fig(level.runs.floor);
  const off = fig(level.runs.off);
  const on = fig(level.runs.on);
  const errors = PATHS.flatMap((p) => level.runs[p]).reduce((n, r) => n + r.errors, 0);
  return {
    concurrency: level.concurrency,
    floor,
    off,
    on,
    errors,
    shareP50: (on.p50 - off.p50) / (off.p50 - floor.p50),
    shareThroughput: (1 / on.rps - 1 / off.rps) / (1 / off.rps - 1 / floor.rps),
    shareCpu: (on.cpuUs - off.cpuUs) / (off.cpuUs - floor.cpuUs),
    rpsRatio: on.rps / off.rps,
  };
}

export function report(levels: LevelFigures[], receiver: Pick<OtlpReceiver, "requests" | "bytes">, opts: TelemetryBenchOptions): string {
  const out: string[] = [
    `## Telemetry overhead: tracing and metrics on vs off`,
    ``,
    `${new Date().toISOString().slice(0, 10)} · ${opts.mode} · on = ${opts.on.join(" + ")}${opts.on.includes("tracing") ? ` (sampling ${opts.sample})` : ""} · ${opts.rounds} rounds × ${opts.durationS} s per path and concurrency · ` +
      `emulator latency_scale 0 · ${MODEL}, max_tokens ${MAX_TOKENS}, warm lease · ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? "unknown"}) · Node ${process.versions.node}`,
    ``,
    `| concurrency | path | req/s | p50 ms | p99 ms | runtime CPU µs/req |`,
    `| ---: | --- | ---: | ---: | ---: | ---: |`,
  ];
  const summaries = levels.map(summarise);
  for (const s of summaries) {
    const label = { floor: "floor worker", off: "strike, telemetry off", on: `strike, ${opts.on.join(" + ")} on` };
    for (const p of PATHS) out.push(`| ${s.concurrency} | ${label[p]} | ${s[p].rps.toFixed(0)} | ${s[p].p50.toFixed(2)} | ${s[p].p99.toFixed(2)} | ${s[p].cpuUs.toFixed(0)} |`);
  }
  out.push(
    ``,
    `| concurrency | gateway overhead p50 (off − floor) | telemetry p50 (on − off) | share of overhead, p50 | req/s on ÷ off | share of overhead, time per request | gateway CPU µs/req (off − floor) | telemetry CPU µs/req (on − off) | share of overhead, CPU |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  );
  for (const s of summaries) {
    out.push(
      `| ${s.concurrency} | ${(s.off.p50 - s.floor.p50).toFixed(2)} ms | ${signed(s.on.p50 - s.off.p50)} ms | ${pct(s.shareP50)} | ${s.rpsRatio.toFixed(3)} | ${pct(s.shareThroughput)} | ` +
        `${(s.off.cpuUs - s.floor.cpuUs).toFixed(0)} | ${signed(s.on.cpuUs - s.off.cpuUs)} | ${pct(s.shareCpu)} |`,
    );
  }
  out.push(
    ``,
    `Medians over ${opts.rounds} rounds. Spans exported during the run: ${receiver.requests} OTLP requests, ${(receiver.bytes / 1024).toFixed(0)} KiB.`,
    ``,
    summaryLine(summaries, receiver),
    ``,
  );
  return out.join("\n");
}

/** The machine-readable last line: latency at the lowest concurrency, throughput at the highest. */
export function summaryLine(summaries: Summary[], receiver: Pick<OtlpReceiver, "requests">): string {
  const low = summaries[0]!;
  const high = summaries.at(-1)!;
  const worst = Math.max(low.shareP50, high.shareThroughput);
  return (
    `concurrency=${low.concurrency},${high.concurrency} floor_p50_ms=${low.floor.p50.toFixed(2)} off_p50_ms=${low.off.p50.toFixed(2)} on_p50_ms=${low.on.p50.toFixed(2)} ` +
    `share_p50=${low.shareP50.toFixed(3)} off_rps=${high.off.rps.toFixed(1)} on_rps=${high.on.rps.toFixed(1)} rps_ratio=${high.rpsRatio.toFixed(3)} ` +
    `share_throughput=${high.shareThroughput.toFixed(3)} share_cpu=${high.shareCpu.toFixed(3)} otlp_requests=${receiver.requests} errors=${summaries.reduce((n, s) => n + s.errors, 0)} ` +
    `goal=${worst < GOAL_SHARE ? "met" : "missed"}`
  );
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : "–");
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;

// ---------------------------------------------------------------------------------------------
// plumbing

// Each run starts once the emulator answers promptly again, so a run does not pay for the
// previous one's backlog.
async function settle(emulator: string): Promise<void> {
  const started = Date.now();
  let prompt = 0;
  while (prompt < 3 && Date.now() - started < 60_000) {
    const t0 = performance.now();
    await call(emulator, "/admin/config").catch(() => {});
    prompt = performance.now() - t0 < 50 ? prompt + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function preflight(path: string, target: LoadTarget): Promise<void> {
  const res = await fetch(target.url, { method: target.method ?? "GET", headers: target.headers ?? {}, body: target.body ?? null, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 300)}`);
}

async function call<T = unknown>(base: string, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(base + path, {
    method: init.method ?? "GET",
    headers: { ...(init.body !== undefined && { "content-type": "application/json" }), ...(init.token && { authorization: `Bearer ${init.token}` }) },
    body: init.body === undefined ? null : JSON.stringify(init.body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${base}${path} → ${res.status}: ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): TelemetryBenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    if (!["mode", "on", "sample", "levels", "rounds", "duration", "timeout"].includes(m[1]!)) throw new Error(`unknown option --${m[1]}`);
    flags.set(m[1]!, value);
  }
  const pick = (flag: string, envName: string, fallback: string) => flags.get(flag) ?? env[envName] ?? fallback;
  const mode = pick("mode", "BENCH_MODE", "miniflare");
  if (mode !== "miniflare" && mode !== "wrangler") throw new Error(`--mode must be miniflare or wrangler`);
  const on = pick("on", "BENCH_ON", "tracing,metrics").split(",").map((s) => s.trim()).filter(Boolean);
  if (!on.length || on.some((p) => p !== "tracing" && p !== "metrics")) throw new Error(`--on lists tracing and/or metrics`);
  const sample = Number(pick("sample", "BENCH_SAMPLE", "1"));
  if (!(sample >= 0 && sample <= 1)) throw new Error(`--sample must be between 0 and 1`);
  const levels = pick("levels", "BENCH_LEVELS", "1,32").split(",").map((s) => Number(s.trim()));
  if (!levels.length || levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--levels must be positive integers`);
  const rounds = Number(pick("rounds", "BENCH_ROUNDS", "3"));
  const durationS = Number(pick("duration", "BENCH_DURATION", "5"));
  const timeoutS = Number(pick("timeout", "BENCH_TIMEOUT", "30"));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`);
  if (!(durationS > 0) || !(timeoutS > 0)) throw new Error(`--duration and --timeout must be positive seconds`);
  return { mode, on: on as TelemetryBenchOptions["on"], sample, levels: [...levels].sort((a, b) => a - b), rounds, durationS, timeoutS };
}

function progress(line: string): void {
  process.stderr.write(`[telemetry] ${line}\n`);
}
