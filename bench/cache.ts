// `npm run bench -- cache`: the answer cache of plain strikes, on and off, in one run.
//
// A workload with repeats is replayed through the real system (gateway, covenant objects, the
// Hosted.AI emulator; Miniflare by default) over HTTP to POST /v1/strikes with the dev key, three
// times, one covenant each, with the same requests in the same order:
//
//   off        cache.mode "off"
//   exact      the default (mode "deterministic": temperature 0 is cached)
//   semantic   the default plus cache.semantic: near-duplicates are answered too
//
// The workload: prompts from ../shared/data/prompts/train.jsonl (seeded draw); each request is,
// with probability --repeat, a repeat of an earlier prompt (Zipf over those seen so far: popular
// prompts recur most), else a new one. A repeat is, with probability --retyped, re-typed (lower
// case, trailing punctuation gone) — which only the semantic cache can match. max_tokens per prompt
// is drawn from the Azure code trace's generated-token counts (clamped to 16–256). All temperature 0.
//
// Reported per covenant: hit rate (exact and semantic), latency percentiles as the client sees
// them (all requests; hits and misses apart), what the responses say they cost, what the
// covenant's ledger booked (usage API), and how many inferences the emulator ran (its own log,
// GET /admin/inferences). Progress on stderr; the report (markdown) on stdout, ending with one
// key=value summary line.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { callJson, latencyStats, sleep } from "./lib/load";
import { withSystem, type LocalSystem } from "./lib/system";

const progress = (line: string) => process.stderr.write(`[cache] ${line}\n`);
const PROMPTS = fileURLToPath(new URL("../../shared/data/prompts/train.jsonl", import.meta.url));
const TRACE = fileURLToPath(new URL("../../shared/data/traces/azure-llm-2023-code.csv", import.meta.url));
const MODEL = "mistral-7b";

interface Options {
  requests: number;
  repeat: number;
  retyped: number;
  concurrency: number;
  timeScale: number;
  seed: number;
  mode: "miniflare" | "wrangler";
}

interface Request {
  prompt: string;
  maxTokens: number;
  kind: "new" | "repeat" | "retyped";
}

interface Shot {
  ms: number;
  status: number;
  cache: string;
  costUsd: number;
}

type Path = "off" | "exact" | "semantic";
const PATHS: Path[] = ["off", "exact", "semantic"];
const CACHE: Record<Path, Record<string, unknown>> = { off: { mode: "off" }, exact: {}, semantic: { semantic: true } };

export async function run(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  const workload = buildWorkload(opts);
  const kinds = count(workload.map((r) => r.kind));
  progress(`${workload.length} requests: ${kinds.new ?? 0} new prompts, ${kinds.repeat ?? 0} exact repeats, ${kinds.retyped ?? 0} re-typed repeats; concurrency ${opts.concurrency}; emulator ×${opts.timeScale}`);
  const k = opts.timeScale;
  const results = await withSystem(
    {
      mode: opts.mode,
      workers: ["hostedai", "gateway"],
      ports: { gateway: 0, hostedai: 0 },
      persist: false,
      quiet: true,
      emulatorVars: { LATENCY_SCALE: String(1 / k), TIME_SCALE: String(k), SEED: "cache-bench" },
      gatewayVars: { LOCAL_NODE_URL: "" },
    },
    (system) => measure(system, workload, opts),
  );
  process.stdout.write(report(opts, workload, results));
}

// ---------------------------------------------------------------------------------------------
// the workload

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildWorkload(opts: Options): Request[] {
  const rnd = random(opts.seed);
  const texts = readFileSync(PROMPTS, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .filter((t) => t.length >= 40 && t.length <= 600);
  const generated = readFileSync(TRACE, "utf8")
    .split("\n")
    .slice(1)
    .map((l) => Number(l.split(",")[2]))
    .filter((n) => Number.isFinite(n) && n > 0);
  const fresh = () => ({ prompt: texts[Math.floor(rnd() * texts.length)]!, maxTokens: Math.min(256, Math.max(16, generated[Math.floor(rnd() * generated.length)]!)) });
  const seen: { prompt: string; maxTokens: number }[] = [];
  const out: Request[] = [];
  for (let i = 0; i < opts.requests; i++) {
    if (seen.length > 0 && rnd() < opts.repeat) {
      // Zipf over the prompts seen so far: the first seen are the most popular.
      const weights = seen.map((_, j) => 1 / (j + 1));
      let x = rnd() * weights.reduce((a, b) => a + b, 0);
      const pick = seen[Math.max(0, weights.findIndex((w) => (x -= w) <= 0))] ?? seen[0]!;
      if (rnd() < opts.retyped) out.push({ prompt: retype(pick.prompt), maxTokens: pick.maxTokens, kind: "retyped" });
      else out.push({ ...pick, kind: "repeat" });
    } else {
      const f = fresh();
      seen.push(f);
      out.push({ ...f, kind: "new" });
    }
  }
  return out;
}

/** As a person re-typing a question would: lower case, no final punctuation. */
function retype(text: string): string {
  let end = text.length;
  while (end > 0 && ".?!".includes(text[end - 1]!)) end--;
  return text.slice(0, end).toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// the live run

interface PathResult {
  shots: Shot[];
  wallMs: number;
  ledgerUsd: number;
  ledgerStrikes: number;
  inferences: number;
}

async function measure(system: LocalSystem, workload: Request[], opts: Options): Promise<Record<Path, PathResult>> {
  const gateway = system.gateway!;
  const emulator = system.hostedai!;
  const auth = { authorization: `Bearer ${system.devKey}` };
  await callJson(`${emulator}/admin/config`, { method: "POST", body: JSON.stringify({ latency_scale: 1 / opts.timeScale, time_scale: opts.timeScale }) });
  const run = Date.now().toString(36);
  const ids = Object.fromEntries(PATHS.map((p) => [p, `cache-${run}-${p}`])) as Record<Path, string>;
  for (const p of PATHS) {
    await callJson(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id: ids[p], models: [MODEL], cache: CACHE[p] }) });
  }
  // One request first on its own covenant, so isolate start-up and the first token are not in any path's figures.
  await callJson(`${gateway}/v1/strikes`, { method: "POST", headers: auth, body: JSON.stringify({ model: MODEL, prompt: "warm up", max_tokens: 4, temperature: 0.5 }) });

  const out = {} as Record<Path, PathResult>;
  for (const p of PATHS) {
    progress(`${p}: ${workload.length} requests…`);
    const shots: Shot[] = new Array(workload.length);
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      for (let i = next++; i < workload.length; i = next++) {
        const r = workload[i]!;
        const started = performance.now();
        const res = await fetch(`${gateway}/v1/strikes`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ covenant_id: ids[p], model: MODEL, prompt: r.prompt, max_tokens: r.maxTokens, temperature: 0 }),
          signal: AbortSignal.timeout(120_000),
        });
        const body = (await res.json()) as { cost_usd?: number };
        shots[i] = { ms: performance.now() - started, status: res.status, cache: res.headers.get("x-homeskillet-cache") ?? "none", costUsd: body.cost_usd ?? 0 };
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const wallMs = performance.now() - t0;
    out[p] = { shots, wallMs, ledgerUsd: 0, ledgerStrikes: 0, inferences: 0 };
    const failed = shots.filter((s) => s.status !== 200).length;
    progress(`${p}: done in ${(wallMs / 1000).toFixed(1)} s${failed ? `, ${failed} failed` : ""}`);
  }
  // Leases go back shortly after their last strike (idle timeout 0): their remainders are booked then.
  await sleep(3_000);
  const { inferences } = await callJson<{ inferences: { metadata: Record<string, string> }[] }>(`${emulator}/admin/inferences`);
  for (const p of PATHS) {
    const usage = await callJson<{ total_usd: number; strikes: number }>(`${gateway}/v1/covenants/${ids[p]}/usage`, { headers: auth });
    const bills = inferences.filter((b) => (b.metadata.workload_id ?? b.metadata.covenant) === ids[p]);
    Object.assign(out[p], { ledgerUsd: usage.total_usd, ledgerStrikes: usage.strikes, inferences: bills.length });
  }
  if (inferences.length >= 1000) progress(`warning: the emulator keeps its last 1000 inferences only; counts may be short`);
  for (const p of PATHS) await callJson(`${gateway}/v1/covenants/${ids[p]}`, { method: "DELETE", headers: auth }).catch(() => undefined);
  return out;
}

// ---------------------------------------------------------------------------------------------
// the report


function count(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const usd = (x: number) => x.toFixed(6);

function report(opts: Options, workload: Request[], r: Record<Path, PathResult>): string {
  const kinds = count(workload.map((w) => w.kind));
  const lines: string[] = [];
  lines.push(`## Answer cache: ${workload.length} strikes with repeats, cache off vs exact vs exact + semantic`, "");
  lines.push(
    `${new Date().toISOString().slice(0, 10)} · ${opts.mode} · emulator ×${opts.timeScale} (latency_scale ${1 / opts.timeScale}) · ${MODEL}, temperature 0 · concurrency ${opts.concurrency} · ` +
      `repeat fraction ${opts.repeat} (${kinds.repeat ?? 0} exact repeats, ${kinds.retyped ?? 0} re-typed, ${kinds.new ?? 0} new prompts) · seed ${opts.seed}`,
    "",
  );
  lines.push("| covenant cache | hits | semantic hits | hit rate | p50 ms | p95 ms | p99 ms | hit p50 ms | miss p50 ms | responses' cost USD | ledger strikes | ledger USD | emulator inferences | wall s | errors |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const p of PATHS) {
    const shots = r[p].shots.filter((s) => s.status === 200);
    const c = count(shots.map((s) => s.cache));
    const all = latencyStats(shots.map((s) => s.ms));
    const hits = latencyStats(shots.filter((s) => s.cache === "hit" || s.cache === "semantic").map((s) => s.ms));
    const misses = latencyStats(shots.filter((s) => s.cache !== "hit" && s.cache !== "semantic").map((s) => s.ms));
    const rate = ((c.hit ?? 0) + (c.semantic ?? 0)) / Math.max(1, shots.length);
    const cost = shots.reduce((s, x) => s + x.costUsd, 0);
    lines.push(
      `| ${p} | ${c.hit ?? 0} | ${c.semantic ?? 0} | ${(rate * 100).toFixed(1)} % | ${f1(all.p50)} | ${f1(all.p95)} | ${f1(all.p99)} | ${f1(hits.p50)} | ${f1(misses.p50)} | ${usd(cost)} | ${r[p].ledgerStrikes} | ${usd(r[p].ledgerUsd)} | ${r[p].inferences} | ${(r[p].wallMs / 1000).toFixed(1)} | ${r[p].shots.length - shots.length} |`,
    );
  }
  const off = r.off;
  const summary = (p: Path) => {
    const shots = r[p].shots.filter((s) => s.status === 200);
    const c = count(shots.map((s) => s.cache));
    return { rate: ((c.hit ?? 0) + (c.semantic ?? 0)) / Math.max(1, shots.length), ...latencyStats(shots.map((s) => s.ms)) };
  };
  const [so, se, ss] = [summary("off"), summary("exact"), summary("semantic")];
  const errors = PATHS.reduce((n, p) => n + r[p].shots.filter((s) => s.status !== 200).length, 0);
  lines.push(
    "",
    `Latency is as the client sees it (HTTP round trip to the gateway). Hits cost nothing and run nothing upstream; the ledger counts them as strikes at $0 on pool \`cache\`. ` +
      `Responses' cost is the sum of the strikes' \`cost_usd\`; ledger USD is what the covenant was billed in all (usage API), leases' idle remainders included. ` +
      `Emulator inferences are counted in its own log (GET /admin/inferences). A repeat that arrives while its original still runs waits for it and is a hit.`,
    "",
    `requests=${workload.length} repeat_fraction=${opts.repeat} retyped_fraction=${opts.retyped} concurrency=${opts.concurrency} ` +
      `hit_rate_exact=${se.rate.toFixed(3)} hit_rate_semantic=${ss.rate.toFixed(3)} ` +
      `p50_off_ms=${f1(so.p50)} p50_exact_ms=${f1(se.p50)} p50_semantic_ms=${f1(ss.p50)} p95_off_ms=${f1(so.p95)} p95_exact_ms=${f1(se.p95)} p99_off_ms=${f1(so.p99)} p99_exact_ms=${f1(se.p99)} ` +
      `cost_off_usd=${usd(off.ledgerUsd)} cost_exact_usd=${usd(r.exact.ledgerUsd)} cost_semantic_usd=${usd(r.semantic.ledgerUsd)} cost_ratio_exact=${(r.exact.ledgerUsd / off.ledgerUsd).toFixed(3)} ` +
      `inferences_off=${off.inferences} inferences_exact=${r.exact.inferences} inferences_semantic=${r.semantic.inferences} errors=${errors}`,
    "",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------


function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  const known = ["requests", "repeat", "retyped", "concurrency", "time-scale", "seed", "mode"];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m || !known.includes(m[1]!)) throw new Error(`unexpected argument ${argv[i]} (known: ${known.map((k) => `--${k}`).join(", ")})`);
    flags.set(m[1]!, m[2] ?? argv[++i] ?? "");
  }
  const env = (name: string) => process.env[`BENCH_${name.toUpperCase().replace("-", "_")}`];
  const num = (name: string, dflt: number) => {
    const v = Number(flags.get(name) ?? env(name) ?? dflt);
    if (!Number.isFinite(v)) throw new Error(`--${name} must be a number`);
    return v;
  };
  const mode = flags.get("mode") ?? env("mode") ?? "miniflare";
  if (mode !== "miniflare" && mode !== "wrangler") throw new Error("--mode is miniflare or wrangler");
  return {
    requests: Math.max(1, Math.floor(num("requests", 300))),
    repeat: Math.min(1, Math.max(0, num("repeat", 0.4))),
    retyped: Math.min(1, Math.max(0, num("retyped", 0.25))),
    concurrency: Math.max(1, Math.floor(num("concurrency", 4))),
    timeScale: Math.max(1, num("time-scale", 1)),
    seed: Math.floor(num("seed", 2026)),
    mode,
  };
}
