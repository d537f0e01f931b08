// `npm run bench -- chaos`: strikes under injected upstream faults against the same strikes
// without them, in one run. Counts what a client sees (errors), what must never happen (lost,
// duplicated, leaked) and what the faults cost (p95 latency ratio, retries spent).
import { withSystem } from "./lib/system";

interface ChaosOptions {
  strikes: number;
  concurrency: number;
  errorRate: number;
  poolDown: string;
}

function parse(args: string[]): ChaosOptions {
  const get = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : (process.env[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`] ?? fallback);
  };
  return {
    strikes: Number(get("strikes", "10000")),
    concurrency: Number(get("concurrency", "50")),
    errorRate: Number(get("error-rate", "0.1")),
    poolDown: get("pool-down", "standard-us-east"),
  };
}

interface RunResult {
  label: string;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  lost: number;
  duplicated: number;
  leaked: number;
  p50: number;
  p95: number;
  p99: number;
  wallS: number;
  faults: Record<string, number>;
  upstreamCalls: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const log = (s: string) => process.stderr.write(`[chaos] ${s}\n`);

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${res.status}: ${text.slice(0, 200)}`);
  }
}

async function run(gateway: string, hostedai: string, key: string, label: string, opts: ChaosOptions, faults: unknown): Promise<RunResult> {
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const covenant = `chaos-${label}-${Date.now()}`;
  // Any pool type: with the pool down, the strikes have other pools to fall back to, not only the local node.
  await fetch(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id: covenant, qos: { pool_type: "any" } }) });
  await fetch(`${hostedai}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(faults) });
  const before = await json<{ faults_injected_total: Record<string, number>; created_total: number; inference_total: number }>(await fetch(`${hostedai}/admin/allocations`));

  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const ids = new Set<string>();
  let ok = 0;
  let lost = 0;
  let duplicated = 0;
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    for (let i = next++; i < opts.strikes; i = next++) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${gateway}/v1/strikes`, {
          method: "POST",
          headers: { ...auth, "idempotency-key": `${covenant}-${i}` },
          body: JSON.stringify({ covenant_id: covenant, model: "gemma-2b-it", prompt: `chaos strike ${i}`, max_tokens: 16 }),
          signal: AbortSignal.timeout(120_000),
        });
        const body = await json<{ id?: string; error?: { type: string } }>(res);
        if (res.ok && body.id) {
          ok++;
          if (ids.has(body.id)) duplicated++;
          ids.add(body.id);
          latencies.push(performance.now() - t0);
        } else {
          const kind = `${res.status} ${body.error?.type ?? "?"}`;
          errors[kind] = (errors[kind] ?? 0) + 1;
        }
      } catch {
        lost++; // accepted, never answered
      }
      if (i > 0 && i % 2000 === 0) log(`${label}: ${i} strikes sent`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const wallS = (Date.now() - started) / 1000;

  await fetch(`${hostedai}/admin/faults`, { method: "DELETE" });
  // The ledger must hold every answered strike exactly once.
  const usage = await json<{ strikes: number }>(await fetch(`${gateway}/v1/covenants/${covenant}/usage`, { headers: auth }));
  duplicated += Math.max(0, usage.strikes - ok);
  lost += Math.max(0, ok - usage.strikes);
  await fetch(`${gateway}/v1/covenants/${covenant}`, { method: "DELETE", headers: auth });
  // Releases that failed under the faults are retried by the covenant's alarm: give it 15 s.
  type AdminView = { allocations: { metadata?: Record<string, string> }[]; faults_injected_total: Record<string, number>; inference_total: number };
  let after = await json<AdminView>(await fetch(`${hostedai}/admin/allocations`));
  const live = (v: AdminView) => v.allocations.filter((a) => a.metadata?.covenant === covenant).length;
  for (let waited = 0; live(after) > 0 && waited < 15_000; waited += 500) {
    await new Promise((r) => setTimeout(r, 500));
    after = await json<AdminView>(await fetch(`${hostedai}/admin/allocations`));
  }
  const leaked = live(after);
  const faultsDelta = Object.fromEntries(Object.entries(after.faults_injected_total).map(([k, v]) => [k, v - (before.faults_injected_total[k] ?? 0)]));
  latencies.sort((a, b) => a - b);
  return {
    label,
    sent: opts.strikes,
    ok,
    errors,
    lost,
    duplicated,
    leaked,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    wallS,
    faults: faultsDelta,
    upstreamCalls: after.inference_total - before.inference_total,
  };
}

export async function chaos(args: string[]): Promise<void> {
  const opts = parse(args);
  const faulty = {
    errors: [{ pool: "*", endpoint: "*", rate: opts.errorRate, status: 500 }],
    pools_down: opts.poolDown ? [opts.poolDown] : [],
  };
  log(`${opts.strikes} strikes per run at concurrency ${opts.concurrency}; faulty run: ${JSON.stringify(faulty)}`);
  const results = await withSystem(
    { mode: "miniflare", ports: { gateway: 0, hostedai: 0, localNode: 0 }, persist: false, quiet: true, emulatorVars: { LATENCY_SCALE: "0.01" } },
    async (system) => {
      const clean = await run(system.gateway!, system.hostedai!, system.devKey, "clean", opts, {});
      log(`clean: ${clean.ok}/${clean.sent} in ${clean.wallS.toFixed(1)} s, p95 ${clean.p95.toFixed(1)} ms`);
      const faultyRun = await run(system.gateway!, system.hostedai!, system.devKey, "faulty", opts, faulty);
      log(`faulty: ${faultyRun.ok}/${faultyRun.sent} in ${faultyRun.wallS.toFixed(1)} s, p95 ${faultyRun.p95.toFixed(1)} ms`);
      return [clean, faultyRun];
    },
  );
  const [clean, faultyRun] = results as [RunResult, RunResult];
  const errorCount = (r: RunResult) => Object.values(r.errors).reduce((a, b) => a + b, 0) + r.lost;
  const lines = [
    `## Chaos: ${opts.strikes} strikes, ${opts.errorRate * 100} % upstream errors on every endpoint, ${opts.poolDown} down`,
    ``,
    `${new Date().toISOString().slice(0, 10)} · Miniflare, direct sockets · emulator latency_scale 0.01 · concurrency ${opts.concurrency} · gemma-2b-it, 16 tokens · client sends each strike once (Idempotency-Key), no client retries`,
    ``,
    `| run | answered 200 | client-visible errors | lost | duplicated | leaked | p50 ms | p95 ms | p99 ms | wall s | faults injected |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    ...[clean, faultyRun].map(
      (r) =>
        `| ${r.label} | ${r.ok} | ${errorCount(r)}${Object.keys(r.errors).length ? ` (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""} | ${r.lost} | ${r.duplicated} | ${r.leaked} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.wallS.toFixed(1)} | ${Object.entries(r.faults).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ") || "none"} |`,
    ),
    ``,
    `Retries spent: every injected fault answered one upstream call that the covenant then retried or moved elsewhere (${Object.values(faultyRun.faults).reduce((a, b) => a + b, 0)} in the faulty run).`,
    ``,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  const total = faultyRun.sent;
  process.stdout.write(
    `strikes=${total} error_rate=${(errorCount(faultyRun) / total).toFixed(5)} lost=${faultyRun.lost} duplicated=${faultyRun.duplicated} leaked=${faultyRun.leaked} p95_ratio=${(faultyRun.p95 / Math.max(0.001, clean.p95)).toFixed(3)}\n`,
  );
}
