// `npm run bench -- replay-live FILE.csv --limit N --time-scale K`: replays the first N requests
// of a trace through the real workers (gateway, covenant object, Hosted.AI emulator) with
// arrivals compressed K× and the emulator running K× fast, then runs the simulator on the same
// slice at the same scale and compares what each did. The last stdout line is the summary.
import { readFileSync } from "node:fs";
import { withSystem, type LocalSystem } from "./lib/system";
import { covenantBody, covenantFor, warmAhead, type CovenantOverrides } from "./sim/covenant-overrides";
import { parseTrace, simulate, type TraceRequest } from "./sim";
import { compareRuns } from "./sim/compare";
import { liveMetrics, type ObservedAllocation, type ObservedStrike } from "./sim/live-metrics";
import { asSent, emulatedCompletionTokens, replayPrompt, REPLAY_TEMPERATURE } from "./sim/prompts";

const HOSTEDAI_API_KEY = "dev-hostedai-key";
const POLL_MS = 100;
const progress = (line: string) => process.stderr.write(`replay-live: ${line}\n`);

interface LiveArgs {
  file: string;
  policy: "seed" | "homeskillet";
  model: string;
  seed: number;
  limit: number;
  timeScale: number;
  mode: "miniflare" | "wrangler";
  overrides: CovenantOverrides;
}

export async function run(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const trace = parseTrace(readFileSync(opts.file, "utf8"), opts.limit).map(asSent);
  if (trace.length === 0) throw new Error(`${opts.file} holds no requests`);
  const contract = { ...covenantFor(opts.overrides), policy: opts.policy };
  const k = opts.timeScale;
  const spanS = trace[trace.length - 1]!.atMs / 1000;
  progress(`${trace.length} requests over ${spanS.toFixed(0)} s of trace → ${(spanS / k).toFixed(1)} s at ×${k}, policy ${opts.policy}, ${opts.mode}`);
  if (spanS > 0.8 * contract.lease.duration_s) progress(`warning: the slice outlasts 80 % of a lease term; leases will expire under the covenant`);

  const observed = await withSystem(
    {
      mode: opts.mode,
      workers: ["hostedai", "gateway"],
      ports: { gateway: 0, hostedai: 0 },
      persist: false,
      quiet: true,
      emulatorVars: { LATENCY_SCALE: String(1 / k), TIME_SCALE: String(k), SEED: String(opts.seed) },
      // The simulator models Hosted.AI pools only: no local node to fall back to.
      gatewayVars: { LOCAL_NODE_URL: "" },
    },
    (system) => replayLive(system, trace, opts),
  );

  const sim = simulate(trace, {
    policy: opts.policy,
    model: opts.model,
    seed: opts.seed,
    contract,
    timeScale: k,
    finalDrain: "retire",
    // What the covenant object does today: housekeeping runs for seed covenants too.
    seedMaintenance: true,
    completionTokens: (r) => emulatedCompletionTokens(r, opts.model, String(opts.seed)),
    callMs: observed.callMs,
  });
  const liveRun = liveMetrics({ ...observed, timeScale: k, slo: contract.qos });
  const cmp = compareRuns(liveRun, sim.metrics);
  const out = [
    `## Trace replay, live vs simulated: first ${trace.length} requests, ${opts.policy}, ${opts.model}, time scale ${k} (${opts.mode})`,
    "",
    `Times are ms of the compressed run (trace ms ÷ ${k}); slice-seconds and cost are emulated (trace) time. ` +
      `The simulator was given the measured ${observed.callMs.toFixed(1)} ms round trip per call from the covenant object to the emulator.`,
    "",
    cmp.table,
    "",
    cmp.reasons.length > 0 ? `Disagreement: ${cmp.reasons.join("; ")}.` : "The live run agrees with the simulator within the set tolerances.",
    "",
    `policy=${opts.policy} requests=${trace.length} time_scale=${k} live_allocations=${liveRun.allocations} sim_allocations=${sim.metrics.allocations} ` +
      `utilization_live=${liveRun.utilization.toFixed(4)} utilization_sim=${sim.metrics.utilization.toFixed(4)} ` +
      `cost_live=${liveRun.costUsd.toFixed(6)} cost_sim=${sim.metrics.costUsd.toFixed(6)} ` +
      `alloc_wait_p95_live_ms=${liveRun.allocWaitMs.p95.toFixed(1)} alloc_wait_p95_sim_ms=${sim.metrics.allocWaitMs.p95.toFixed(1)} ` +
      `leaked_live=${liveRun.leaked} agreement=${cmp.agreement}`,
  ];
  process.stdout.write(out.join("\n") + "\n");
}

interface Observed {
  /** Median round trip of one call from the covenant object to the emulator, real ms. */
  callMs: number;
  allocations: ObservedAllocation[];
  strikes: ObservedStrike[];
  leaked: number;
  expired: number;
}

async function replayLive(system: LocalSystem, trace: readonly TraceRequest[], opts: LiveArgs): Promise<Observed> {
  const gateway = system.gateway!;
  const emulator = system.hostedai!;
  const auth = { authorization: `Bearer ${system.devKey}`, "content-type": "application/json" };
  const covenantId = `replay-${opts.policy}-${Date.now().toString(36)}`;
  const callMs = await measureCallMs(gateway, auth, opts.model);
  progress(`a call from the covenant object to the emulator takes ${callMs.toFixed(1)} ms (median)`);
  await json(`${gateway}/v1/covenants`, {
    method: "POST",
    headers: auth,
    // The simulator replays strikes, not fusion: the covenant must not split a long prompt into fragments.
    body: JSON.stringify({ id: covenantId, policy: opts.policy, fusion: { auto: false }, ...covenantBody(opts.overrides) }),
  });

  // Real → emulated time, from the emulator's own clock reading.
  const t = Date.now();
  const cfg = await json<{ emulated_now: string }>(`${emulator}/admin/config`);
  const anchor = { real: (t + Date.now()) / 2, emulated: Date.parse(cfg.emulated_now) };
  const emulatedAt = (real: number) => anchor.emulated + (real - anchor.real) * opts.timeScale;

  // When each allocation was last seen held, and when first seen gone.
  const lastSeen = new Map<string, number>();
  const goneBy = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const at = Date.now();
      const view = await json<{ allocations: { allocation_id: string }[] }>(`${emulator}/admin/allocations`).catch(() => undefined);
      if (view) {
        const held = new Set(view.allocations.map((a) => a.allocation_id));
        for (const id of held) lastSeen.set(id, at);
        for (const id of lastSeen.keys()) if (!held.has(id) && !goneBy.has(id)) goneBy.set(id, at);
      }
      await sleep(POLL_MS - (Date.now() - at));
    }
  })();

  progress(`replaying through ${gateway} (covenant ${covenantId})…`);
  const start = Date.now() + 250;
  let allocatedByStrikes = 0;
  const strikes = await Promise.all(
    trace.map(async (r): Promise<ObservedStrike> => {
      const due = start + r.atMs / opts.timeScale;
      await sleep(due - Date.now());
      const body = { covenant_id: covenantId, model: opts.model, prompt: replayPrompt(r), max_tokens: r.completionTokens, temperature: REPLAY_TEMPERATURE };
      try {
        const res = await fetch(`${gateway}/v1/strikes`, { method: "POST", headers: auth, body: JSON.stringify(body) });
        const out = (await res.json()) as { lease_reused?: boolean; pool_id?: string; timings?: { queue_ms: number; allocate_ms: number }; error?: { type: string } };
        const latencyMs = Date.now() - due;
        if (!res.ok || !out.timings) {
          progress(`strike ${r.index}: ${res.status} ${out.error?.type ?? ""}`);
          return { ok: false, waitMs: 0, latencyMs, reused: false };
        }
        if (out.lease_reused === false && !["cache", "local", "fused"].includes(out.pool_id ?? "")) allocatedByStrikes++;
        return { ok: true, waitMs: out.timings.queue_ms + out.timings.allocate_ms, latencyMs, reused: out.lease_reused === true };
      } catch (err) {
        progress(`strike ${r.index}: ${String(err)}`);
        return { ok: false, waitMs: 0, latencyMs: Date.now() - due, reused: false };
      }
    }),
  );
  progress(`${strikes.filter((s) => s.ok).length}/${strikes.length} strikes answered; retiring the covenant`);

  // The final drain: deleting the covenant releases every lease it holds.
  for (let i = 0; ; i++) {
    const res = await fetch(`${gateway}/v1/covenants/${covenantId}`, { method: "DELETE", headers: auth });
    await res.arrayBuffer();
    if (res.ok) break;
    if (i >= 20) throw new Error(`DELETE /v1/covenants/${covenantId} kept answering ${res.status}`);
    await sleep(250);
  }
  await sleep(2 * POLL_MS);
  polling = false;
  await poller;

  const admin = await json<{ allocations: { metadata?: Record<string, string> }[]; expired_total: number }>(`${emulator}/admin/allocations`);
  const token = (await json<{ access_token: string }>(`${emulator}/api/v1/auth/token`, { method: "POST", body: JSON.stringify({ api_key: HOSTEDAI_API_KEY }) })).access_token;
  const bearer = { authorization: `Bearer ${token}` };
  // Only this covenant's allocations: the calibration covenant made some too.
  const listed = (
    await json<{ allocations: { allocation_id: string; status: string; created_at: string; metadata?: Record<string, string> }[] }>(`${emulator}/api/v1/allocations`, { headers: bearer })
  ).allocations.filter((a) => a.metadata?.workload_id === covenantId);
  // Made ahead of demand: the allocations beyond those strikes made for themselves (the upstream's metadata does not say).
  const warm = listed.length - allocatedByStrikes;
  progress(`${listed.length} allocations (${warm} made ahead of demand), ${admin.allocations.length} still held, ${admin.expired_total} expired`);
  const allocations = await mapLimited(listed, 8, async (a): Promise<ObservedAllocation> => {
    const m = await json<{ gpu_utilization: number; inference_count: number; average_latency_ms: number }>(`${emulator}/api/v1/allocations/${a.allocation_id}/metrics`, { headers: bearer });
    // DELETE on an allocation that is no longer active changes nothing and returns its receipt;
    // a leaked (still active) one is left alone so the leak stays visible.
    const receipt =
      a.status === "active"
        ? { billed_seconds: 0, cost_usd: 0 }
        : await json<{ billed_seconds: number; cost_usd: number }>(`${emulator}/api/v1/allocations/${a.allocation_id}`, { method: "DELETE", headers: bearer });
    const seen = lastSeen.get(a.allocation_id);
    const gone = goneBy.get(a.allocation_id);
    return {
      createdAt: Date.parse(a.created_at),
      status: a.status,
      billedSeconds: receipt.billed_seconds,
      costUsd: receipt.cost_usd,
      gpuUtilization: m.gpu_utilization,
      inferenceCount: m.inference_count,
      averageLatencyMs: m.average_latency_ms,
      endedAtEstimate: seen !== undefined && gone !== undefined ? emulatedAt((seen + gone) / 2) : null,
    };
  });
  const unused = allocations.filter((a) => a.inferenceCount === 0).length;
  if (unused > 0) progress(`${unused} allocations never ran an inference`);
  return { callMs, allocations, strikes, leaked: admin.allocations.length, expired: admin.expired_total };
}

/**
 * The object's round trip to the emulator, measured where it happens: a seed covenant releases
 * its allocation after each strike and reports how long that one call took (release_ms).
 */
async function measureCallMs(gateway: string, auth: Record<string, string>, model: string): Promise<number> {
  const id = `calibrate-${Date.now().toString(36)}`;
  await json(`${gateway}/v1/covenants`, { method: "POST", headers: auth, body: JSON.stringify({ id, policy: "seed" }) });
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) {
    const out = await json<{ timings: { release_ms: number } }>(`${gateway}/v1/strikes`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ covenant_id: id, model, prompt: "calibrate", max_tokens: 1 }),
    });
    // The first calls also fetch a token and the pool listing.
    if (i >= 2) samples.push(out.timings.release_ms);
  }
  await json(`${gateway}/v1/covenants/${id}`, { method: "DELETE", headers: auth });
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? 0;
}

async function json<T = unknown>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, { ...init, headers: { "content-type": "application/json", ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${url} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function mapLimited<A, B>(items: readonly A[], limit: number, fn: (a: A) => Promise<B>): Promise<B[]> {
  const out: B[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function parseArgs(args: string[]): LiveArgs {
  const flags = new Map<string, string>();
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      const [name, inline] = a.split("=", 2) as [string, string | undefined];
      const value = inline ?? args[++i];
      if (value === undefined) throw new Error(`${name} needs a value`);
      flags.set(name, value);
    } else if (!file) file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  const usage = "usage: npm run bench -- replay-live FILE.csv [--policy seed|homeskillet] [--limit 300] [--time-scale 2] [--model mistral-7b] [--seed 42] [--mode miniflare|wrangler] [--slo-ms N] [--ttft-slo-ms N] [--tpot-slo-ms N] [--lease-concurrency N] [--idle-timeout-s S] [--max-warm-leases N] [--max-leases N] [--lease-duration-s S] [--share-delay-ms N] [--warm-ahead off|burst]";
  if (!file) throw new Error(`a trace file is required\n${usage}`);
  const known = [
    "--policy", "--limit", "--time-scale", "--model", "--seed", "--mode", "--slo-ms", "--ttft-slo-ms", "--tpot-slo-ms",
    "--lease-concurrency", "--idle-timeout-s", "--max-warm-leases", "--max-leases", "--lease-duration-s", "--share-delay-ms", "--warm-ahead",
  ];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option ${name}\n${usage}`);
  const num = (name: string): number | undefined => {
    const raw = flags.get(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`${name} must be a number`);
    return n;
  };
  const policy = flags.get("--policy") ?? "homeskillet";
  if (policy !== "seed" && policy !== "homeskillet") throw new Error("--policy must be seed or homeskillet");
  const mode = flags.get("--mode") ?? "miniflare";
  if (mode !== "miniflare" && mode !== "wrangler") throw new Error("--mode must be miniflare or wrangler");
  const timeScale = num("--time-scale") ?? 2;
  if (!(timeScale >= 1 && timeScale <= 100)) throw new Error("--time-scale must be between 1 and 100");
  const limit = num("--limit") ?? 300;
  if (!(limit >= 1)) throw new Error("--limit must be at least 1");
  return {
    file,
    policy,
    model: flags.get("--model") ?? "mistral-7b",
    seed: Math.trunc(num("--seed") ?? 42),
    limit,
    timeScale,
    mode,
    overrides: {
      latency_slo_ms: num("--slo-ms"),
      ttft_slo_ms: num("--ttft-slo-ms"),
      tpot_slo_ms: num("--tpot-slo-ms"),
      share_delay_ms: num("--share-delay-ms"),
      warm_ahead: warmAhead(flags.get("--warm-ahead")),
      max_concurrency: num("--lease-concurrency"),
      idle_timeout_s: num("--idle-timeout-s"),
      max_warm_leases: num("--max-warm-leases"),
      max_leases: num("--max-leases"),
      duration_s: num("--lease-duration-s"),
    },
  };
}

