// `npm run bench -- profile`: where a gateway request's CPU time goes, by stage.
//
// Starts the local system under Miniflare (emulators at latency 0) with workerd's inspector open,
// drives one path with autocannon and takes a CPU profile of the gateway's isolate meanwhile (the
// edge worker and its Durable Objects share it). Every sample is charged to the stage of the
// innermost project frame on its stack (bench/lib/cpu-profile.ts; the bundle's source map names
// the file), so native work (SQLite, JSON, fetch) counts for the code that asked for it. The
// report gives CPU µs per 2xx response for each stage, and the top functions by self time.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { attribute, Inspector, shortFile, SourceFiles } from "./lib/cpu-profile";
import { runLoad, sleep, type LoadTarget } from "./lib/load";
import { startOtlpReceiver } from "./lib/otlp-receiver";
import { withSystem } from "./lib/system";
import { freePort } from "../scripts/ports.mjs";

const MODEL = "gemma-2b-it";
const PROMPT = "Explain vGPU slicing in one sentence.";
const MAX_TOKENS = 16;
const LOCAL_COVENANT = "bench-local";
const PROFILED = ["strike", "openai", "openai-stream", "openai-local", "openai-local-stream", "floor"] as const;
type Profiled = (typeof PROFILED)[number];

/** Which stage a source file's code belongs to; undefined = look at the caller. */
export function stageOf(file: string, fn: string): string | undefined {
  const f = shortFile(file);
  // esbuild's keep-names helper: it runs wherever a named closure is created.
  if (fn === "__name" && (!f || f === "index.js")) return "closures named at run time (__name)";
  // The log sink, `(line) => console.log(line)`: the runtime's console, which costs far more while
  // an inspector is attached (it keeps every message for DevTools) than in a plain run.
  if ((fn === "" || fn === "sink") && f === "src/telemetry/log.ts") return "logging: console.log (inflated by the inspector)";
  if (!f) return undefined;
  const rules: Array<[RegExp, string]> = [
    [/^src\/(auth|limits)\/|^src\/api\/(middleware|actor)\.ts/, "auth and key limits"],
    [/^node_modules\/(zod|@hono\/zod-openapi|@asteasolutions)|^src\/schema\//, "body parse and validation"],
    [/^src\/classify\/|^wasm\//, "classification"],
    // An upstream call's record is mostly its log line (its span is a no-op with tracing off).
    [/^src\/telemetry\/(log|upstream)\.ts/, "logging"],
    [/^src\/telemetry\/(tracing|strike-spans|trace-context|traced-covenant|otlp)\.ts|^node_modules\/@opentelemetry/, "tracing"],
    [/^src\/telemetry\//, "metrics"],
    [/^src\/covenant\/(ledger|storage|usage|outcome-book|idempotency)\.ts/, "ledger and strike records (SQLite)"],
    [/^src\/covenant\/(answer-desk|answer-cache)\.ts/, "answer-cache lookup"],
    [/^src\/covenant\/limits\.ts/, "covenant limits and budgets"],
    [/^src\/covenant\/object\.ts/, "covenant object: RPC entry"],
    [/^src\/(covenant|policy)\//, "covenant: runner, placement, lease"],
    [/^src\/providers\//, "upstream call (provider client)"],
    [/^src\/api\/(openai|openai-stream|stop-sequences|openai-errors)\.ts/, "response shaping (OpenAI)"],
    [/^src\/api\/(strike-service|strikes)\.ts/, "edge strike service (RPC call, strike response)"],
    [/^node_modules\/hono\//, "routing (hono)"],
    [/^src\//, "other gateway code"],
    [/^node_modules\//, "other packages"],
    [/^bench\/floor-worker\//, "floor worker"],
  ];
  for (const [re, stage] of rules) if (re.test(f)) return stage;
  return undefined;
}

/**
 * Which side of the strike a source file's code runs on: the edge worker (scales out with
 * requests) or the covenant's Durable Object (one per covenant, single-threaded, so its share of
 * a strike is what bounds one covenant's throughput); undefined = look at the caller, for code
 * both sides share (log lines, spans, the metric registry, the runtime's helpers).
 */
export function sideOf(file: string, fn: string): string | undefined {
  const f = shortFile(file);
  if (!f) return undefined;
  if (f === "src/telemetry/log.ts") return fn === "serve" || fn === "requestLogger" ? "edge worker" : undefined;
  if (/^src\/(covenant|providers|policy|fusion|structured|families)\/|^src\/telemetry\/(book|upstream|upstream-failures|traced-covenant|strike-spans|metrics|readings)\.ts/.test(f)) return "covenant object";
  if (/^src\/(api|auth|limits|classify|mcp)\/|^wasm\/|^node_modules\/(hono|@hono|zod|@asteasolutions)\//.test(f)) return "edge worker";
  return undefined;
}

interface ProfileOptions {
  path: Profiled;
  concurrency: number;
  durationS: number;
  intervalUs: number;
  /** Record every trace and export it to a receiver on loopback, so tracing's own cost is profiled. */
  tracing: boolean;
  out?: string;
}

export async function run(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  const inspectorPort = await freePort();
  const receiver = opts.tracing ? await startOtlpReceiver({ keepSpans: false }) : undefined;
  try {
    await profileSystem(opts, inspectorPort, receiver?.url);
  } finally {
    await receiver?.close();
  }
}

async function profileSystem(opts: ProfileOptions, inspectorPort: number, otlpUrl: string | undefined): Promise<void> {
  await withSystem(
    {
      mode: "miniflare",
      workers: ["hostedai", "localNode", "gateway", "floor"],
      ports: { gateway: 0, hostedai: 0, localNode: 0, floor: 0 },
      persist: false,
      emulatorVars: { LATENCY_SCALE: "0" },
      ...(otlpUrl && { gatewayVars: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_TRACES_SAMPLER_ARG: "1" } }),
      quiet: true,
      inspectorPort,
    },
    async (system) => {
      const headers = { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" };
      await fetch(`${system.gateway}/v1/covenants`, { method: "POST", headers, body: JSON.stringify({ id: LOCAL_COVENANT, fallback: ["local"] }) });
      // No temperature (OpenAI's default, 1): the answer cache, temperature 0 only by default, stays out.
      const chat = { model: MODEL, messages: [{ role: "user", content: PROMPT }], max_tokens: MAX_TOKENS };
      const local = { ...headers, "x-homeskillet-covenant": LOCAL_COVENANT };
      const targets: Record<Profiled, LoadTarget> = {
        strike: { url: `${system.gateway}/v1/strikes`, method: "POST", headers, body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: MAX_TOKENS }) },
        openai: { url: `${system.gateway}/v1/chat/completions`, method: "POST", headers, body: JSON.stringify(chat) },
        "openai-stream": { url: `${system.gateway}/v1/chat/completions`, method: "POST", headers, body: JSON.stringify({ ...chat, stream: true }) },
        "openai-local": { url: `${system.gateway}/v1/chat/completions`, method: "POST", headers: local, body: JSON.stringify(chat) },
        "openai-local-stream": { url: `${system.gateway}/v1/chat/completions`, method: "POST", headers: local, body: JSON.stringify({ ...chat, stream: true }) },
        floor: { url: `${system.floor}/local/v1/chat/completions`, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chat) },
      };
      const target = targets[opts.path];
      const first = await fetch(target.url, { method: "POST", headers: target.headers!, body: target.body! });
      if (!first.ok) throw new Error(`${opts.path}: ${first.status} ${await first.text()}`);
      await first.arrayBuffer();
      await runLoad(target, { connections: 10, durationS: 2, timeoutS: 30 }); // warm-up: JIT, leases
      await sleep(500);

      const worker = opts.path === "floor" ? "floor-worker" : "homeskillet";
      const inspector = await Inspector.connect(inspectorPort, worker);
      await inspector.startProfiling(opts.intervalUs);
      const load = await runLoad(target, { connections: opts.concurrency, durationS: opts.durationS, timeoutS: 30 });
      const profile = await inspector.stopProfiling();
      inspector.close();
      if (opts.out) writeFileSync(opts.out, JSON.stringify(profile));

      const mapDir = opts.path === "floor" ? ".build/floor-worker" : ".build/homeskillet";
      const files = new SourceFiles(join(process.cwd(), mapDir, "index.js.map"));
      const a = attribute(profile, files, stageOf);
      const n = Math.max(1, load.ok);
      const us = (x: number) => (x / n).toFixed(1);
      const out: string[] = [
        `## Profile: ${opts.path}, concurrency ${opts.concurrency}, ${opts.durationS} s, Miniflare${opts.tracing ? ", every trace recorded and exported" : ""}`,
        ``,
        `${load.ok} responses (2xx) at ${load.rps.toFixed(0)} req/s, p50 ${load.p50.toFixed(2)} ms, errors ${load.errors}${load.errors ? ` (${Object.entries(load.errorKinds).map(([k, c]) => `${k}: ${c}`).join(", ")})` : ""}; ` +
          `the ${worker} isolate was busy ${(a.totalUs / 1e6).toFixed(2)} s of ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s ` +
          `(${us(a.totalUs)} µs CPU per response; sampled every ${opts.intervalUs} µs).`,
        ``,
        `| stage | CPU µs per response | share |`,
        `| --- | ---: | ---: |`,
      ];
      for (const [stage, t] of [...a.stageUs].sort((x, y) => y[1] - x[1])) {
        out.push(`| ${stage} | ${us(t)} | ${((100 * t) / a.totalUs).toFixed(1)} % |`);
      }
      const sides = attribute(profile, files, sideOf);
      out.push(``, `| side | CPU µs per response | share |`, `| --- | ---: | ---: |`);
      for (const [side, t] of [...sides.stageUs].sort((x, y) => y[1] - x[1])) {
        out.push(`| ${side} | ${us(t)} | ${((100 * t) / sides.totalUs).toFixed(1)} % |`);
      }
      out.push(``, `Top functions by self time (µs per response):`, ``);
      for (const [fn, t] of [...a.selfUs].sort((x, y) => y[1] - x[1]).slice(0, 40)) out.push(`- ${us(t)} ${fn}`);
      out.push(``);
      process.stdout.write(out.join("\n"));
    },
  );
}

function parseOptions(argv: string[]): ProfileOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    // A flag without a value (`--tracing`) is followed by the next flag or nothing.
    const next = argv[i + 1];
    flags.set(m[1]!, m[2] ?? (next !== undefined && !next.startsWith("--") ? argv[++i]! : ""));
  }
  const path = (flags.get("path") ?? "strike") as Profiled;
  if (!PROFILED.includes(path)) throw new Error(`--path must be one of ${PROFILED.join(", ")}`);
  return {
    path,
    concurrency: Number(flags.get("concurrency") ?? 100),
    durationS: Number(flags.get("duration") ?? 10),
    intervalUs: Number(flags.get("interval") ?? 100),
    tracing: flags.has("tracing"),
    ...(flags.get("out") && { out: flags.get("out") }),
  };
}
