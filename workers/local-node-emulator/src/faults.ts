// Injected faults: what a chaos run configures for the node, and the pure decision of which fault
// one request meets. The device object keeps the configuration and the draw counter; the Worker
// applies the decision before the request reaches the device, so an injected failure books no
// generation. Faults reach every API request (as a flaky tunnel or node would), never /admin.
import { z } from "zod";
import { ApiError } from "./errors";
import { MAX_TOKENS_LIMIT } from "./schema";

/** Added latency is bounded so that a typo cannot stall a run for hours. */
export const MAX_LATENCY_MS = 600_000;
/** Enough malformed answers for any run; a typo cannot make the rest of time malformed. */
export const MAX_MALFORMED = 1_000_000;

/**
 * How a malformed structured answer (tool calls or JSON) is wrong: arguments or JSON that break
 * the schema, or JSON text that does not parse (cut short). The n-th malformed answer since the
 * configuration was set is the first kind for even n, the second for odd n.
 */
export type MalformedKind = "violates_schema" | "unparsable";

export const FaultConfig = z.strictObject({
  errors: z
    .array(z.strictObject({ rate: z.number().min(0).max(1), status: z.int().min(400).max(599) }))
    .max(100)
    .default([]),
  latency_ms: z.number().min(0).max(MAX_LATENCY_MS).default(0),
  timeouts: z.strictObject({ rate: z.number().min(0).max(1) }).nullable().default(null),
  down: z.boolean().default(false),
  stream_cut_after_tokens: z.int().min(0).max(MAX_TOKENS_LIMIT).nullable().default(null),
  // The next `count` structured answers (tool calls or JSON) come out malformed.
  malformed_output: z.strictObject({ count: z.int().min(0).max(MAX_MALFORMED) }).nullable().default(null),
});
export type FaultConfig = z.infer<typeof FaultConfig>;

export const NO_FAULTS: FaultConfig = FaultConfig.parse({});

/** Counted in GET /admin/stats under faults_injected_total. */
export const FAULT_KINDS = ["errors", "latency", "timeouts", "down", "stream_cut", "malformed_output"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultAction =
  | { kind: "pass"; streamCutAfterTokens: number | null }
  | { kind: "error"; status: number }
  | { kind: "hang" }
  | { kind: "down" };

/** What happens to one request: a delay first, then the action. Plain data, so it crosses RPC. */
export interface FaultPlan {
  latencyMs: number;
  action: FaultAction;
  /** Fault kinds the request met, for the counters. */
  injected: FaultKind[];
}

/**
 * Decides one request's fate. `draw` gives the next number of the seeded sequence and is called
 * once per random rule consulted, in a fixed order, so the same requests meet the same faults.
 */
export function decideFault(config: FaultConfig, draw: () => number): FaultPlan {
  // A node that is down answers at once: there is no generation to be slow about.
  if (config.down) return { latencyMs: 0, action: { kind: "down" }, injected: ["down"] };
  const injected: FaultKind[] = config.latency_ms > 0 ? ["latency"] : [];
  const plan = (action: FaultAction, kind?: FaultKind): FaultPlan => ({
    latencyMs: config.latency_ms,
    action,
    injected: kind ? [...injected, kind] : injected,
  });
  if (config.timeouts && draw() < config.timeouts.rate) return plan({ kind: "hang" }, "timeouts");
  const failed = config.errors.find((rule) => draw() < rule.rate);
  if (failed) return plan({ kind: "error", status: failed.status }, "errors");
  return plan({ kind: "pass", streamCutAfterTokens: config.stream_cut_after_tokens });
}

export function injectedError(status: number): ApiError {
  return new ApiError(
    status,
    `Injected failure (${status}); the request was not served.`,
    status >= 500 ? "server_error" : "invalid_request_error",
    null,
    "injected_fault",
  );
}

export function nodeDown(): ApiError {
  return new ApiError(503, "The node is down.", "server_error", null, "node_down");
}

export function injectedTimeout(): ApiError {
  return new ApiError(504, "Injected timeout: the request was held without being served.", "server_error", null, "injected_timeout");
}
