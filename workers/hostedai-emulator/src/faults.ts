// Injected faults: what a chaos run configures, and the pure decision of which fault (if any)
// one request meets. The cluster object holds the configuration and the draw counter; the
// Worker applies the decision (delay, hang, dropped connection, error) before doing any work,
// so an injected failure never changes state.
import { z } from "zod";
import type { ApiError } from "./errors";
import { MAX_TOKENS_LIMIT } from "./schemas";

/** The contract's endpoints, as fault rules name them. */
export const ENDPOINTS = ["token", "pools", "allocate", "list", "get", "inference", "metrics", "release"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Counted in GET /admin/allocations under faults_injected_total. */
export const FAULT_KINDS = [
  "errors", "latency", "timeouts", "rate_limit", "pools_down", "partition", "stream_cut", "token_expired", "malformed_output",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Added latency and Retry-After are bounded so a typo cannot stall a run for hours. */
export const MAX_ADDED_MS = 600_000;
export const MAX_RETRY_AFTER_S = 3600;
const MAX_RULES = 100;
/** Enough malformed answers for any run; a typo cannot make the rest of time malformed. */
export const MAX_MALFORMED = 1_000_000;

/**
 * How a malformed structured answer (tool calls or JSON) is wrong: arguments or JSON that break
 * the schema, or output that does not parse (cut short). The n-th malformed answer since the
 * configuration was set is the first kind for even n, the second for odd n.
 */
export type MalformedKind = "violates_schema" | "unparsable";

const Match = {
  pool: z.string().min(1).max(100).default("*"),
  endpoint: z.enum([...ENDPOINTS, "*"]).default("*"),
};
const Rate = z.number().min(0).max(1);

export const FaultConfigSchema = z.strictObject({
  errors: z.array(z.strictObject({ ...Match, rate: Rate, status: z.number().int().min(400).max(599) })).max(MAX_RULES).default([]),
  latency: z.array(z.strictObject({ ...Match, added_ms: z.number().min(0).max(MAX_ADDED_MS) })).max(MAX_RULES).default([]),
  timeouts: z.array(z.strictObject({ ...Match, rate: Rate })).max(MAX_RULES).default([]),
  rate_limit: z
    .array(z.strictObject({ ...Match, rate: Rate, retry_after_s: z.number().int().min(0).max(MAX_RETRY_AFTER_S).default(1) }))
    .max(MAX_RULES)
    .default([]),
  pools_down: z.array(z.string().min(1).max(100)).max(MAX_RULES).default([]),
  partition: z.enum(["hang", "reset"]).nullable().default(null),
  // Spot capacity behaves this way, so it is on unless a run turns it off.
  preempt_under_pressure: z.boolean().default(true),
  stream_cut_after_tokens: z.number().int().min(0).max(MAX_TOKENS_LIMIT).nullable().default(null),
  // Cuts aimed at some streams only: by pool, and by the allocation's metadata (entries it must have).
  stream_cuts: z
    .array(
      z.strictObject({
        pool: Match.pool,
        metadata: z.record(z.string().max(128), z.string().max(1024)).default({}),
        after_tokens: z.number().int().min(0).max(MAX_TOKENS_LIMIT),
        rate: Rate.default(1),
      }),
    )
    .max(MAX_RULES)
    .default([]),
  // The next `count` structured answers (tool calls or JSON) come out malformed.
  malformed_output: z.strictObject({ count: z.number().int().min(0).max(MAX_MALFORMED) }).nullable().default(null),
});
export type FaultConfig = z.infer<typeof FaultConfigSchema>;

export const NO_FAULTS: FaultConfig = FaultConfigSchema.parse({});

/** Pool ids the configuration names (other than "*"), with the dotted path naming each. */
export function namedPools(config: FaultConfig): { path: string; pool: string }[] {
  const named: { path: string; pool: string }[] = [];
  for (const kind of ["errors", "latency", "timeouts", "rate_limit"] as const) {
    config[kind].forEach((rule, i) => {
      if (rule.pool !== "*") named.push({ path: `${kind}.${i}.pool`, pool: rule.pool });
    });
  }
  config.pools_down.forEach((pool, i) => named.push({ path: `pools_down.${i}`, pool }));
  config.stream_cuts.forEach((rule, i) => {
    if (rule.pool !== "*") named.push({ path: `stream_cuts.${i}.pool`, pool: rule.pool });
  });
  return named;
}

/** What the cluster knows about a streamed inference when it decides whether to cut it. */
export interface StreamFacts {
  readonly poolId: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * After how many tokens a stream is cut, or null: the first `stream_cuts` rule that matches the
 * allocation (and whose rate the next draw falls under), otherwise `stream_cut_after_tokens`.
 * Each matching rule takes one draw, in order, so the same streams meet the same cuts.
 */
export function decideStreamCut(config: FaultConfig, facts: StreamFacts, draw: () => number): number | null {
  for (const rule of config.stream_cuts) {
    if (rule.pool !== "*" && rule.pool !== facts.poolId) continue;
    if (!Object.entries(rule.metadata).every(([key, value]) => facts.metadata[key] === value)) continue;
    if (draw() < rule.rate) return rule.after_tokens;
  }
  return config.stream_cut_after_tokens;
}

/** What the Worker knows about a request when it asks whether a fault applies. */
export interface RequestFacts {
  /** null for requests no rule can name (unknown routes, failed authentication): only a partition reaches them. */
  readonly endpoint: Endpoint | null;
  /** The pool asked for, or the pool of the allocation the request is about. */
  readonly poolId?: string;
  /** The `gen` claim of the caller's verified token, when the endpoint needs one. */
  readonly tokenGeneration?: number;
}

export type GateDecision =
  | { kind: "pass"; addedLatencyMs: number; tokenGeneration: number }
  | { kind: "error"; addedLatencyMs: number; error: ApiError }
  | { kind: "hang"; addedLatencyMs: number }
  | { kind: "reset" };

export interface GateVerdict {
  decision: GateDecision;
  /** Fault kinds this request met, for the admin counters. */
  injected: FaultKind[];
}

function matches(rule: { pool: string; endpoint: string }, facts: RequestFacts): boolean {
  if (facts.endpoint === null) return false;
  if (rule.endpoint !== "*" && rule.endpoint !== facts.endpoint) return false;
  return rule.pool === "*" || rule.pool === facts.poolId;
}

/**
 * Decides one request's fate. `draw` returns the next number of the seeded sequence; it is called
 * once per matching random rule, in a fixed order, so the same requests meet the same faults.
 */
export function decideGate(
  config: FaultConfig,
  facts: RequestFacts,
  currentGeneration: number,
  draw: () => number,
): GateVerdict {
  // A partitioned network loses every request, authenticated or not, before anything else.
  if (config.partition === "reset") return { decision: { kind: "reset" }, injected: ["partition"] };
  if (config.partition === "hang") return { decision: { kind: "hang", addedLatencyMs: 0 }, injected: ["partition"] };

  const injected: FaultKind[] = [];
  const latency = config.latency.filter((rule) => matches(rule, facts));
  const addedLatencyMs = latency.reduce((sum, rule) => sum + rule.added_ms, 0);
  if (latency.length > 0) injected.push("latency");

  const fail = (kind: FaultKind, error: ApiError): GateVerdict => ({
    decision: { kind: "error", addedLatencyMs, error },
    injected: [...injected, kind],
  });

  if (facts.tokenGeneration !== undefined && facts.tokenGeneration < currentGeneration) {
    return fail("token_expired", { status: 401, type: "token_expired", message: "The token has expired; request a new one." });
  }
  const hit = <R extends { pool: string; endpoint: string; rate: number }>(rules: readonly R[]): R | undefined =>
    rules.find((rule) => matches(rule, facts) && draw() < rule.rate);

  if (hit(config.timeouts)) return { decision: { kind: "hang", addedLatencyMs }, injected: [...injected, "timeouts"] };
  const limited = hit(config.rate_limit);
  if (limited) {
    return fail("rate_limit", {
      status: 429,
      type: "rate_limited",
      message: "Too many requests; retry after the time given.",
      retry_after_seconds: limited.retry_after_s,
    });
  }
  const failed = hit(config.errors);
  if (failed) {
    return fail("errors", {
      status: failed.status,
      type: "injected_fault",
      message: `Injected failure (${failed.status}) on ${facts.endpoint}; nothing was done.`,
    });
  }
  return { decision: { kind: "pass", addedLatencyMs, tokenGeneration: currentGeneration }, injected };
}

export function poolUnavailable(poolId: string, retryAfterSeconds: number): ApiError {
  return { status: 503, type: "pool_unavailable", message: `Pool ${poolId} is down.`, retry_after_seconds: retryAfterSeconds };
}

export function allocationPreempted(allocationId: string): ApiError {
  return {
    status: 409,
    type: "allocation_preempted",
    message: `Allocation ${allocationId} was preempted to make room for non-preemptible work.`,
    details: { allocation_id: allocationId, status: "preempted" },
  };
}
