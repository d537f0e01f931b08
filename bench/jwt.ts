// `npm run bench -- jwt`: what reusing the Hosted.AI JWT saves. Inference calls go through the
// connector (src/providers/hostedai, HostedAiClient.infer) to the local Hosted.AI emulator, one
// at a time, on one allocation, two ways:
//
//   reused   one connector: the token is fetched once and sent with every call (what runs in production)
//   fresh    a new token exchange before every call (POST /api/v1/auth/token, then the inference)
//
// Both go through the same connector code and the same fetch: "fresh" gives each call a
// connector of its own under a distinct base URL (the isolate's token cache is keyed by it), and a
// fetcher maps every base URL to the emulator. Calls alternate in blocks, so both modes see the same
// machine. The emulator runs with latency_scale 0 by default, so an inference costs what its HTTP
// round trip and the emulator's own work cost, and the token exchange's share stands out; over a
// real network each exchange also costs a round trip to Hosted.AI. Progress on stderr, the report
// on stdout, ending with one key=value summary line.
import { HostedAiClient } from "../src/providers/hostedai";
import { setLogSink } from "../src/telemetry/log";
import { latencyStats } from "./lib/load";
import { withSystem } from "./lib/system";

const progress = (line: string) => process.stderr.write(`[jwt] ${line}\n`);
const API_KEY = "dev-hostedai-key";
const BLOCK = 10;

interface Options {
  calls: number;
  latencyScale: number;
  mode: "miniflare" | "wrangler";
}

export async function run(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  // The connector's log line per call would go to stdout, where the report goes: not here.
  setLogSink(() => {});
  const result = await withSystem(
    { mode: opts.mode, workers: ["hostedai"], ports: { hostedai: 0 }, persist: false, quiet: true, emulatorVars: { LATENCY_SCALE: String(opts.latencyScale) } },
    async (system) => {
      const emulator = system.hostedai!;
      await fetch(`${emulator}/admin/config`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ latency_scale: opts.latencyScale }) });
      let tokenRequests = 0;
      // Every base URL the bench invents is the emulator; the path and the request are the connector's own.
      const fetcher = {
        fetch: (input: string | URL | Request, init?: RequestInit) => {
          const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
          if (url.pathname.endsWith("/auth/token")) tokenRequests++;
          return fetch(`${emulator}${url.pathname}${url.search}`, init);
        },
      } as unknown as Fetcher;
      const connector = (base: string) => new HostedAiClient({ baseUrl: base, apiKey: API_KEY, fetcher });
      const reused = connector("http://hostedai.reused");
      const allocation = await reused.allocate({
        pool_id: "standard-us-east",
        requirements: { min_tflops: 5, min_vram_mb: 2048, max_vram_mb: 4096 },
        duration_seconds: 3600,
        preemptible: false,
        metadata: { tenant_id: "bench", workload_id: "jwt" },
      });
      const ask = { model: "gemma-2b-it", prompt: "Name one GPU.", max_tokens: 8, temperature: 0 };
      // Warm both paths once (the first call of each pays for connections and compilation).
      await reused.infer(allocation.allocation_id, ask);
      await connector("http://hostedai.warm").infer(allocation.allocation_id, ask);
      const before = await admin(emulator);
      const ms = { reused: [] as number[], fresh: [] as number[] };
      const tokens = { reused: 0, fresh: 0 };
      let fresh = 0;
      for (let done = 0; done < opts.calls; done += BLOCK) {
        for (const mode of ["reused", "fresh"] as const) {
          for (let i = 0; i < Math.min(BLOCK, opts.calls - done); i++) {
            const client = mode === "reused" ? reused : connector(`http://hostedai.fresh-${fresh++}`);
            const t0 = tokenRequests;
            const started = performance.now();
            await client.infer(allocation.allocation_id, ask);
            ms[mode].push(performance.now() - started);
            tokens[mode] += tokenRequests - t0;
          }
        }
        if ((done / BLOCK) % 5 === 0) progress(`${Math.min(opts.calls, done + BLOCK)}/${opts.calls} calls per mode`);
      }
      const after = await admin(emulator);
      await reused.release(allocation.allocation_id);
      return { ms, tokens, issued: after.tokens_issued - before.tokens_issued };
    },
  );
  process.stdout.write(report(opts, result));
}

async function admin(emulator: string): Promise<{ tokens_issued: number }> {
  const res = await fetch(`${emulator}/admin/allocations`);
  if (!res.ok) throw new Error(`emulator admin: ${res.status}`);
  return (await res.json()) as { tokens_issued: number };
}


function report(opts: Options, r: { ms: { reused: number[]; fresh: number[] }; tokens: { reused: number; fresh: number }; issued: number }): string {
  const a = latencyStats(r.ms.reused);
  const b = latencyStats(r.ms.fresh);
  const f = (x: number) => x.toFixed(2);
  return [
    `## JWT reuse: ${opts.calls} inference calls per mode through the Hosted.AI connector`,
    "",
    `${new Date().toISOString().slice(0, 10)} · ${opts.mode} · emulator latency_scale ${opts.latencyScale} · gemma-2b-it, 8 tokens · one call at a time, modes alternating in blocks of ${BLOCK}`,
    "",
    "| token | calls | token exchanges | p50 ms | p95 ms | p99 ms | mean ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| reused | ${r.ms.reused.length} | ${r.tokens.reused} | ${f(a.p50)} | ${f(a.p95)} | ${f(a.p99)} | ${f(a.mean)} |`,
    `| fresh per call | ${r.ms.fresh.length} | ${r.tokens.fresh} | ${f(b.p50)} | ${f(b.p95)} | ${f(b.p99)} | ${f(b.mean)} |`,
    "",
    `The emulator issued ${r.issued} tokens during the measured calls. Reuse saves ${f(b.p50 - a.p50)} ms at the median per call here (${f(b.mean - a.mean)} ms on average), ` +
      `${(b.p50 / a.p50).toFixed(2)}× the reused call's median; over a real network each exchange avoided is also one round trip to Hosted.AI.`,
    "",
    `calls=${opts.calls} latency_scale=${opts.latencyScale} reused_p50_ms=${f(a.p50)} fresh_p50_ms=${f(b.p50)} saved_p50_ms=${f(b.p50 - a.p50)} reused_mean_ms=${f(a.mean)} fresh_mean_ms=${f(b.mean)} ` +
      `ratio_p50=${(b.p50 / a.p50).toFixed(3)} token_exchanges_reused=${r.tokens.reused} token_exchanges_fresh=${r.tokens.fresh} tokens_issued=${r.issued}`,
    "",
  ].join("\n");
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(calls|latency-scale|mode)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${argv[i]} (known: --calls, --latency-scale, --mode)`);
    flags.set(m[1]!, m[2] ?? argv[++i] ?? "");
  }
  const calls = Number(flags.get("calls") ?? process.env.BENCH_CALLS ?? 200);
  const latencyScale = Number(flags.get("latency-scale") ?? process.env.BENCH_LATENCY_SCALE ?? 0);
  const mode = flags.get("mode") ?? process.env.BENCH_MODE ?? "miniflare";
  if (!Number.isFinite(calls) || calls < 1) throw new Error("--calls must be a positive number");
  if (!Number.isFinite(latencyScale) || latencyScale < 0) throw new Error("--latency-scale must be 0 or more");
  if (mode !== "miniflare" && mode !== "wrangler") throw new Error("--mode is miniflare or wrangler");
  return { calls: Math.floor(calls), latencyScale, mode };
}
