// `npm run bench -- replay FILE.csv --policy seed|homeskillet`: replays a request trace through
// the discrete-event simulator (bench/sim) and reports utilisation, allocation wait, cost, SLO
// misses and leaks. Runs in seconds; the last line of stdout is the one-line summary.
import { readFileSync } from "node:fs";
import { applyCovenantChange, defaultContract, modelCatalogue, type PlacementPolicy } from "../src/policy";
import { CovenantPatch, type CovenantContract } from "../src/schema";
import { parseTrace, simulate, summaryLine, type SimResult } from "./sim";
import { metricsTable } from "./sim/report";

export interface ReplayArgs {
  file: string;
  policy: PlacementPolicy;
  model: string;
  seed: number;
  limit: number;
  timeScale: number;
  drain: "natural" | "retire";
  seedMaintenance: boolean;
  compare: boolean;
  contract: CovenantContract;
}

const USAGE = `usage: npm run bench -- replay FILE.csv [--policy seed|homeskillet] [--model mistral-7b] [--seed 42]
       [--limit N] [--slo-ms 2000] [--time-scale 1] [--drain natural|retire] [--compare] [--seed-maintenance]
       [--lease-concurrency N] [--idle-timeout-s S] [--max-warm-leases N] [--max-leases N] [--lease-duration-s S]`;

export async function run(args: string[]): Promise<void> {
  const opts = parseArgs(args);
  const text = readFileSync(opts.file, "utf8");
  const started = Date.now();
  const trace = parseTrace(text, opts.limit);
  if (trace.length === 0) throw new Error(`${opts.file} holds no requests`);
  const spanS = trace[trace.length - 1]!.atMs / 1000;
  process.stderr.write(`replay: ${trace.length} requests over ${spanS.toFixed(0)} s from ${opts.file}\n`);

  const once = (policy: PlacementPolicy): SimResult =>
    simulate(trace, {
      policy,
      model: opts.model,
      seed: opts.seed,
      contract: opts.contract,
      timeScale: opts.timeScale,
      finalDrain: opts.drain,
      seedMaintenance: opts.seedMaintenance,
    });
  const main = once(opts.policy);
  const runs = [{ label: opts.policy, result: main }];
  if (opts.compare && opts.policy !== "seed") runs.unshift({ label: "seed", result: once("seed") });
  process.stderr.write(`replay: simulated in ${Date.now() - started} ms\n`);

  const c = opts.contract;
  const out = [
    `## Trace replay (simulated): ${trace.length} requests, ${opts.model}, seed ${opts.seed}${opts.timeScale !== 1 ? `, time scale ${opts.timeScale}` : ""}`,
    "",
    `Covenant: lease duration ${c.lease.duration_s} s, idle timeout ${c.lease.idle_timeout_s} s, ` +
      `${c.lease.max_concurrency} strikes per lease, at most ${c.lease.max_warm_leases} warm / ${c.lease.max_leases} leases, ` +
      `SLO ${c.qos.latency_slo_ms} ms; final drain: ${opts.drain}.`,
    "",
    metricsTable(runs),
    "",
  ];
  if (runs.length === 2) {
    const [seed, mine] = [runs[0]!.result.metrics, main.metrics];
    out.push(
      `${opts.policy} vs seed: cost ×${(mine.costUsd / seed.costUsd).toFixed(3)}, allocations ×${(mine.allocations / seed.allocations).toFixed(4)}, ` +
        `utilisation ${seed.utilization.toFixed(3)} → ${mine.utilization.toFixed(3)}`,
      "",
    );
  }
  out.push(summaryLine(opts.policy, main.metrics));
  process.stdout.write(out.join("\n") + "\n");
}

export function parseArgs(args: string[]): ReplayArgs {
  const catalogue = modelCatalogue();
  let file: string | undefined;
  const flags = new Map<string, string>();
  const switches = new Set(["--compare", "--seed-maintenance"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") throw new Error(USAGE);
    if (switches.has(a)) flags.set(a, "true");
    else if (a.startsWith("--")) {
      const [name, inline] = a.split("=", 2) as [string, string | undefined];
      const value = inline ?? args[++i];
      if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
      flags.set(name, value);
    } else if (!file) file = a;
    else throw new Error(`unexpected argument ${a}\n${USAGE}`);
  }
  if (!file) throw new Error(`a trace file is required\n${USAGE}`);
  const known = ["--policy", "--model", "--seed", "--limit", "--slo-ms", "--time-scale", "--drain", "--compare", "--seed-maintenance", "--lease-concurrency", "--idle-timeout-s", "--max-warm-leases", "--max-leases", "--lease-duration-s"];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option ${name}\n${USAGE}`);

  const policy = flags.get("--policy") ?? "homeskillet";
  if (policy !== "seed" && policy !== "homeskillet") throw new Error(`--policy must be seed or homeskillet`);
  const drain = flags.get("--drain") ?? "natural";
  if (drain !== "natural" && drain !== "retire") throw new Error(`--drain must be natural or retire`);
  const num = (name: string, fallback: number) => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  };
  const contract = covenantFor(
    {
      latency_slo_ms: flags.has("--slo-ms") ? num("--slo-ms", 0) : undefined,
      max_concurrency: flags.has("--lease-concurrency") ? num("--lease-concurrency", 0) : undefined,
      idle_timeout_s: flags.has("--idle-timeout-s") ? num("--idle-timeout-s", 0) : undefined,
      max_warm_leases: flags.has("--max-warm-leases") ? num("--max-warm-leases", 0) : undefined,
      max_leases: flags.has("--max-leases") ? num("--max-leases", 0) : undefined,
      duration_s: flags.has("--lease-duration-s") ? num("--lease-duration-s", 0) : undefined,
    },
    catalogue,
  );
  const model = flags.get("--model") ?? contract.default_model;
  if (!catalogue.has(model)) throw new Error(`unknown model ${model}; known: ${[...catalogue.keys()].join(", ")}`);
  const limit = num("--limit", Infinity);
  const timeScale = num("--time-scale", 1);
  if (!(limit >= 1)) throw new Error("--limit must be at least 1");
  if (!(timeScale > 0)) throw new Error("--time-scale must be positive");
  return {
    file,
    policy,
    model,
    seed: Math.trunc(num("--seed", 42)),
    limit,
    timeScale,
    drain,
    seedMaintenance: flags.has("--seed-maintenance"),
    compare: flags.has("--compare"),
    contract,
  };
}

export interface CovenantOverrides {
  latency_slo_ms?: number | undefined;
  max_concurrency?: number | undefined;
  idle_timeout_s?: number | undefined;
  max_warm_leases?: number | undefined;
  max_leases?: number | undefined;
  duration_s?: number | undefined;
}

/** The default covenant with the given changes, validated as the covenant API validates them. */
export function covenantFor(o: CovenantOverrides, catalogue = modelCatalogue()): CovenantContract {
  const lease = Object.fromEntries(
    Object.entries({ max_concurrency: o.max_concurrency, idle_timeout_s: o.idle_timeout_s, max_warm_leases: o.max_warm_leases, max_leases: o.max_leases, duration_s: o.duration_s }).filter(([, v]) => v !== undefined),
  );
  const body = {
    ...(o.latency_slo_ms !== undefined && { qos: { latency_slo_ms: o.latency_slo_ms } }),
    ...(Object.keys(lease).length > 0 && { lease }),
  };
  const parsed = CovenantPatch.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid covenant override ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const now = new Date(0).toISOString();
  const result = applyCovenantChange(defaultContract("replay", catalogue, now), parsed.data, catalogue, now);
  if (!result.ok) throw new Error(`invalid covenant override ${result.param}: ${result.message}`);
  return result.contract;
}
