/**
 * One replay: a trace against a covenant (seed or homeskillet) on the simulated Hosted.AI
 * cluster, in virtual time. Pure and deterministic: same trace, options and seed → same numbers.
 */
import { fnv1a, mulberry32 } from "../../workers/hostedai-emulator/src/random";
import type { PoolSpec } from "../../workers/hostedai-emulator/src/catalogue";
import { defaultContract, strikeDeadlineMs, modelCatalogue, type ModelCatalogue, type PlacementPolicy } from "../../src/policy";
import type { CovenantContract } from "../../src/schema";
import { SimCluster } from "./cluster";
import { SimCovenant } from "./covenant";
import { EventLoop } from "./engine";
import { measure, type RunMetrics } from "./metrics";
import type { TraceRequest } from "./trace";

export interface SimOptions {
  policy: PlacementPolicy;
  /** Model every request asks for. */
  model: string;
  seed: number;
  /** The covenant; its policy is replaced by `policy`. Default: the default covenant. */
  contract?: CovenantContract;
  /**
   * Replays at K× speed as a live run does: arrivals compressed by K, the emulator's latencies
   * scaled by 1/K and its clock (expiry, billing) running K× faster, while the covenant's own
   * timers (idle timeout, lease duration, demand window) stay in real ms, as they do live.
   */
  timeScale?: number;
  /**
   * After the last strike: `natural` lets the covenant's alarm release what it holds (the idle
   * tail is paid for); `retire` releases every lease at once, as deleting the covenant does.
   */
  finalDrain?: "natural" | "retire";
  seedMaintenance?: boolean;
  /** Tokens each request produces; default the trace's GeneratedTokens. */
  completionTokens?: (r: TraceRequest) => number;
  /**
   * The `max_tokens` each request asks for, as a multiple of the tokens it produces (default 1:
   * the prediction knows each answer's length). Real clients ask loosely; above 1 the policy
   * predicts from `max_tokens` alone, as it does live when the classifier offers no estimate.
   */
  maxTokensFactor?: number;
  pools?: readonly PoolSpec[];
  catalogue?: ModelCatalogue;
  /**
   * Round trip of each call from the covenant object to Hosted.AI, real ms; 0 (the default)
   * models the upstream's own delays only. A live replay measures it: at time scale K every real
   * ms of it is K emulated ms of billed time.
   */
  callMs?: number;
}

export interface SimResult {
  policy: PlacementPolicy;
  contract: CovenantContract;
  metrics: RunMetrics;
  /** Diagnostics of the covenant shell. */
  shell: { maintenanceRuns: number; pastAlarms: number; peakInFlightPerLease: number; metFullPools: number; endedAtMs: number; eventsRun: number };
}

export function simulate(trace: readonly TraceRequest[], opts: SimOptions): SimResult {
  const catalogue = opts.catalogue ?? modelCatalogue();
  const model = catalogue.get(opts.model);
  if (!model) throw new Error(`unknown model ${opts.model}; known: ${[...catalogue.keys()].join(", ")}`);
  const k = opts.timeScale ?? 1;
  if (!(k > 0)) throw new Error("timeScale must be positive");
  const base = opts.contract ?? defaultContract("replay", catalogue, new Date(0).toISOString());
  const contract: CovenantContract = { ...base, policy: opts.policy };
  if (!contract.models.includes(model.id)) throw new Error(`the covenant does not allow ${model.id}`);

  const loop = new EventLoop();
  const cluster = new SimCluster({ seed: String(opts.seed), timeScale: k, latencyScale: 1 / k, ...(opts.pools && { pools: opts.pools }) });
  const covenant = new SimCovenant({
    loop,
    cluster,
    contract,
    catalogue,
    random: mulberry32(fnv1a(`backoff:${opts.seed}`)),
    seedMaintenance: opts.seedMaintenance ?? false,
    callMs: opts.callMs ?? 0,
  });

  for (const r of trace) {
    loop.at(r.atMs / k, () =>
      covenant.strike({
        index: r.index,
        model,
        promptTokens: r.promptTokens,
        maxTokens: Math.max(1, Math.ceil(r.completionTokens * (opts.maxTokensFactor ?? 1))),
        completionTokens: opts.completionTokens?.(r) ?? r.completionTokens,
        latencySensitive: false,
      }),
    );
  }
  const lastArrival = trace.length > 0 ? trace[trace.length - 1]!.atMs / k : 0;
  // Nothing the covenant holds may outlive a lease term past the last strike's deadline.
  const horizon = lastArrival + strikeDeadlineMs(contract.qos.latency_slo_ms) + 2 * contract.lease.duration_s * 1000;
  const records = covenant.runner.records;
  const allEnded = () => records.length === trace.length && records.every((r) => r.endedAt !== null);

  let eventsRun = 0;
  if ((opts.finalDrain ?? "natural") === "retire") {
    eventsRun += loop.run(horizon, allEnded);
    covenant.retire();
  }
  eventsRun += loop.run(horizon);
  const end = loop.now;
  cluster.advance(end);

  const metrics = measure({
    rows: cluster.rows,
    records,
    endEmulated: cluster.emulatedAt(end),
    lastArrivalEmulated: cluster.emulatedAt(lastArrival),
    timeScale: k,
    slo: contract.qos,
  });
  return {
    policy: opts.policy,
    contract,
    metrics,
    shell: {
      maintenanceRuns: covenant.maintenanceRuns,
      pastAlarms: covenant.pastAlarms,
      peakInFlightPerLease: covenant.leases.peakInFlight,
      metFullPools: covenant.runner.metFullPools,
      endedAtMs: end,
      eventsRun,
    },
  };
}
