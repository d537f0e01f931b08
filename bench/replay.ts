// `npm run bench -- replay FILE.csv --policy seed|homeskillet`: replays a request trace through
// the discrete-event simulator (bench/sim) and reports utilisation, allocation wait, cost, SLO
// misses and leaks. Runs in seconds; the last line of stdout is the one-line summary.
import { readFileSync } from "node:fs";
import { modelCatalogue, type PlacementPolicy } from "../src/policy";
import type { CovenantContract } from "../src/schema";
import { parseTrace, simulate, summaryLine, type SimResult } from "./sim";
import { covenantFor, warmAhead, type CovenantOverrides } from "./sim/covenant-overrides";
import type { RunMetrics } from "./sim/metrics";
import { metricsTable, sloText } from "./sim/report";
import { cheapestDominating, cheapestWhere, frontier, knobsText, sameKnobs, sweepPoints, userDominates, type SweepKnobs, type SweepPoint } from "./sim/sweep";

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
  sweep: boolean;
  /** Each request's max_tokens as a multiple of the tokens it produces. */
  maxTokensFactor: number;
  /** The covenant overrides given on the command line: a sweep varies the rest. */
  overrides: CovenantOverrides;
  contract: CovenantContract;
}

const USAGE = `usage: npm run bench -- replay FILE.csv [--policy seed|homeskillet] [--model mistral-7b] [--seed 42]
       [--limit N] [--slo-ms 2000] [--ttft-slo-ms MS] [--tpot-slo-ms MS] [--time-scale 1] [--drain natural|retire]
       [--compare] [--sweep] [--seed-maintenance]
       [--lease-concurrency N] [--idle-timeout-s S] [--max-warm-leases N] [--max-leases N] [--lease-duration-s S]
       [--share-delay-ms MS] [--warm-ahead off|burst] [--max-tokens-factor F]`;

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
      maxTokensFactor: opts.maxTokensFactor,
    });
  if (opts.sweep) return sweep(opts, trace);
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

/** `--sweep`: the policy over its knobs against the seed rule, and the cost / SLO-attainment frontier. */
function sweep(opts: ReplayArgs, trace: ReturnType<typeof parseTrace>): void {
  const started = Date.now();
  const run = (policy: PlacementPolicy, contract: CovenantContract) =>
    simulate(trace, {
      policy,
      model: opts.model,
      seed: opts.seed,
      contract,
      timeScale: opts.timeScale,
      finalDrain: opts.drain,
      seedMaintenance: opts.seedMaintenance,
      maxTokensFactor: opts.maxTokensFactor,
    }).metrics;
  const baseline = run("seed", opts.contract);
  const defaults = opts.contract.lease;
  const defaultKnobs: SweepKnobs = {
    share_delay_ms: defaults.share_delay_ms,
    max_concurrency: defaults.max_concurrency,
    max_leases: defaults.max_leases,
    warm_ahead: defaults.warm_ahead,
    idle_timeout_s: defaults.idle_timeout_s,
  };
  const grid = sweepPoints();
  if (!grid.some((k) => sameKnobs(k, defaultKnobs))) grid.push(defaultKnobs);
  const points: SweepPoint[] = grid.map((knobs, i) => {
    process.stderr.write(`\rreplay: sweep ${i + 1}/${grid.length}`);
    return { knobs, metrics: run("homeskillet", covenantFor({ ...opts.overrides, ...knobs })) };
  });
  process.stderr.write(`\nreplay: swept ${grid.length} points in ${Date.now() - started} ms\n`);
  const front = frontier(points);
  const mine = points.find((p) => sameKnobs(p.knobs, defaultKnobs))!;
  const best = cheapestDominating(points, baseline);
  // What each goal costs on its own: the cheapest point reaching it, whatever else it gives up.
  const goals: [string, (m: RunMetrics) => boolean][] = [
    ["allocation wait p95 < 20 ms", (m) => m.allocWaitMs.p95 < 20],
    ["utilisation ≥ 0.92", (m) => m.utilization >= 0.92],
    ["cost ≤ 0.6× the seed rule's", (m) => m.costUsd <= 0.6 * baseline.costUsd],
    ["never worse for the user and cost ≤ 0.6×", (m) => userDominates(m, baseline) && m.costUsd <= 0.6 * baseline.costUsd],
    ["never worse for the user and allocation wait p95 < 20 ms", (m) => userDominates(m, baseline) && m.allocWaitMs.p95 < 20],
  ];
  const onFront = front.includes(mine);
  const row = (label: string, m: RunMetrics) =>
    `| ${label} | ${(m.costUsd / baseline.costUsd).toFixed(3)} | ${pctText(m.sloAttainment)} | ${m.latencyMs.p50.toFixed(0)} | ${m.latencyMs.p95.toFixed(0)} | ` +
    `${m.allocWaitMs.p95.toFixed(1)} | ${m.utilization.toFixed(3)} | ${m.goodputPerUsd.toFixed(0)} | ${m.leaked} | ${userDominates(m, baseline) ? "yes" : "no"} |`;
  const header = [
    "| point | cost × seed | SLO attainment | e2e p50 ms | e2e p95 ms | alloc wait p95 ms | utilisation | goodput / USD | leaked | never worse for the user |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  const label = (p: SweepPoint) => `${knobsText(p.knobs)}${p === mine ? " **(defaults)**" : ""}`;
  const out = [
    `## Trace replay sweep (simulated): ${trace.length} requests, ${opts.model}, seed ${opts.seed}, ${grid.length} points`,
    "",
    `SLO: ${sloText(opts.contract.qos)}. "Never worse for the user": SLO attainment ≥ the seed rule's and end-to-end p50 and p95 ≤ its.`,
    "",
    "### Cost / SLO-attainment frontier",
    "",
    ...header,
    row("seed rule (baseline)", baseline),
    ...front.map((p) => row(label(p), p.metrics)),
    "",
    "### What each goal costs on its own (the cheapest point reaching it)",
    "",
    ...header,
    ...goals.map(([name, ok]) => {
      const p = cheapestWhere(points, ok);
      return p ? row(`${name}: ${label(p)}`, p.metrics) : `| ${name}: no point of the grid | | | | | | | | | |`;
    }),
    "",
    "### Cheapest points never worse for the user",
    "",
    ...header,
    ...points
      .filter((p) => userDominates(p.metrics, baseline))
      .sort((a, b) => a.metrics.costUsd - b.metrics.costUsd)
      .slice(0, 8)
      .map((p) => row(label(p), p.metrics)),
    "",
    `Defaults: ${knobsText(defaultKnobs)}; ${onFront ? "on the frontier" : "not on the frontier"}; ${userDominates(mine.metrics, baseline) ? "never worse for the user" : "worse for the user than the seed rule on some measure"}.`,
    best ? `Cheapest point never worse for the user: ${knobsText(best.knobs)} at ${(best.metrics.costUsd / baseline.costUsd).toFixed(3)}× the seed rule's cost.` : "No point is never worse for the user.",
    "",
    `${summaryLine("homeskillet", mine.metrics)} sweep_points=${grid.length} frontier_points=${front.length} defaults_on_frontier=${onFront} ` +
      `cost_ratio=${(mine.metrics.costUsd / baseline.costUsd).toFixed(3)} best_dominating_cost_ratio=${best ? (best.metrics.costUsd / baseline.costUsd).toFixed(3) : "none"}`,
  ];
  process.stdout.write(out.join("\n") + "\n");
}

function pctText(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

export function parseArgs(args: string[]): ReplayArgs {
  const catalogue = modelCatalogue();
  let file: string | undefined;
  const flags = new Map<string, string>();
  const switches = new Set(["--compare", "--sweep", "--seed-maintenance"]);
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
  const known = [
    "--policy", "--model", "--seed", "--limit", "--slo-ms", "--ttft-slo-ms", "--tpot-slo-ms", "--time-scale", "--drain", "--compare", "--sweep", "--seed-maintenance",
    "--lease-concurrency", "--idle-timeout-s", "--max-warm-leases", "--max-leases", "--lease-duration-s", "--share-delay-ms", "--warm-ahead", "--max-tokens-factor",
  ];
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
  const opt = (name: string) => (flags.has(name) ? num(name, 0) : undefined);
  const overrides: CovenantOverrides = {
    latency_slo_ms: opt("--slo-ms"),
    ttft_slo_ms: opt("--ttft-slo-ms"),
    tpot_slo_ms: opt("--tpot-slo-ms"),
    max_concurrency: opt("--lease-concurrency"),
    idle_timeout_s: opt("--idle-timeout-s"),
    max_warm_leases: opt("--max-warm-leases"),
    max_leases: opt("--max-leases"),
    duration_s: opt("--lease-duration-s"),
    share_delay_ms: opt("--share-delay-ms"),
    warm_ahead: warmAhead(flags.get("--warm-ahead")),
  };
  const contract = covenantFor(overrides, catalogue);
  const model = flags.get("--model") ?? contract.default_model;
  if (!catalogue.has(model)) throw new Error(`unknown model ${model}; known: ${[...catalogue.keys()].join(", ")}`);
  const limit = num("--limit", Infinity);
  const timeScale = num("--time-scale", 1);
  if (!(limit >= 1)) throw new Error("--limit must be at least 1");
  if (!(timeScale > 0)) throw new Error("--time-scale must be positive");
  if (!(num("--max-tokens-factor", 1) >= 1)) throw new Error("--max-tokens-factor must be at least 1");
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
    sweep: flags.has("--sweep"),
    maxTokensFactor: num("--max-tokens-factor", 1),
    overrides,
    contract,
  };
}

