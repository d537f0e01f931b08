// What crosses the native RPC boundary between the edge worker and a covenant object.
import type { RateView } from "../policy/limits";
import type { ChatMessage, Classification, FusionGap, FusionOptions, FusionProgress, FusionReport, StrikeResponse } from "../schema";
import type { AgentTurn } from "../structured/types";

/**
 * A strike admitted by its key's limiter (src/limits): the covenant object renews the hold while
 * the strike runs and settles it with what the strike used when it ends.
 */
export interface KeyHoldRef {
  /** The `KeyLimiter` object's name, `<tenant>:<key id>`. */
  limiter: string;
  holdId: string;
}

export interface StrikeInput {
  strikeId: string;
  tenant: string;
  covenantId: string;
  /** Absent: the covenant's default model. */
  model?: string;
  promptText: string;
  promptTokens: number;
  /** The edge classifier's reading: routes a strike that names no model. */
  classification?: Classification;
  maxTokens: number;
  temperature: number;
  latencySensitive: boolean;
  /** The strike's priority class; the covenant's when absent, never above it. */
  priority?: "low" | "normal" | "high" | "critical";
  /** Present when the client asked for fusion: the request is planned into fragments. */
  fusion?: FusionOptions;
  /** The request's own messages, kept for fusion (system prompts apply to every fragment). */
  messages?: ChatMessage[];
  /** An agent turn (tools, structured output): answered whole, checked, never decomposed. */
  turn?: AgentTurn;
  /** Passed to targets that take one (the local node). */
  seed?: number;
  /** Client-supplied Idempotency-Key: the same key and request run once. */
  idempotencyKey?: string;
  /** The edge's W3C trace context: the covenant's spans continue the request's trace. */
  traceparent?: string;
  /** When the edge received the request (its clock, Unix ms): the start of the request's end-to-end time. */
  receivedAt?: number;
  /** The key is narrowed to these models: the covenant runs only those of its own that are among them. */
  models?: string[];
  /** The key's limiter admitted this strike: settle the hold when it ends. */
  keyHold?: KeyHoldRef;
  /** The key that asked (`key_…` or `config:<tenant>`): the ledger and the usage export name it. */
  keyId?: string;
}

export type StrikeSuccess = {
  ok: true;
  /** The strike's id (a replay answers with the original's). */
  strikeId: string;
  /** Answered from an earlier run of the same Idempotency-Key. */
  replayed?: boolean;
  /** The covenant's rate limits as they stand after this strike was admitted (limited covenants only). */
  rateLimit?: RateView;
  strike: Omit<StrikeResponse, "timings" | "object" | "id" | "created" | "classification"> & {
    timings: Omit<StrikeResponse["timings"], "classify_ms" | "total_ms">;
  };
};

export interface FailureBody {
  type: string;
  message: string;
  param?: string;
  retry_after_s?: number;
  upstream?: { provider: string; status: number; type: string };
  /** Budget refusals: which budget, its limit, what is spent, what this strike asked for, when it resets. */
  budget?: string;
  limit_usd?: number;
  spent_usd?: number;
  requested_usd?: number;
  resets_at?: string | null;
  /** Limit refusals (429, and a key's dollar budgets): whose limit — `key` or `covenant` — and which, with its value. */
  scope?: "key" | "covenant";
  limit?: string;
  limit_value?: number;
  retry_after_ms?: number;
  requested_tokens?: number;
  /** For a fused strike that failed: what ran, what is missing, and why. */
  fusion?: FusionReport;
  /** For a fused strike that failed: the parts that did not arrive. */
  missing?: FusionGap[];
  /** Every attempt the strike made, in order, when it failed after trying. */
  attempts?: AttemptRecord[];
  /** Targets the covenant ruled out for this strike, and why. */
  excluded?: { id: string; reason: string }[];
}

export interface AttemptRecord {
  target: string;
  attempt: number;
  outcome: "failed" | "skipped";
  status: number;
  type: string;
  message: string;
}

export type FailureStatus = 400 | 401 | 402 | 403 | 404 | 409 | 422 | 429 | 502 | 503 | 504;

export type StrikeFailure = { ok: false; status: FailureStatus; error: FailureBody; replayed?: boolean; rateLimit?: RateView };

export type StrikeOutcome = StrikeSuccess | StrikeFailure;

export type Result<T> = { ok: true; value: T } | StrikeFailure;

/**
 * One line of a watched strike (`strikeStream`), as NDJSON: first, under a limited covenant, its
 * rate limits as admission left them; then fusion progress, the moment capacity was found,
 * tokens (when streamed), and exactly one `done` or `error`.
 */
export type StrikeEvent =
  | { event: "limits"; rate_limit: RateView }
  | { event: "progress"; progress: FusionProgress }
  | { event: "placed"; model: string; pool_id: string; allocation_id: string; lease_reused: boolean }
  | { event: "token"; text: string; model: string }
  | { event: "done"; strike_id: string; strike: StrikeSuccess["strike"] }
  | { event: "error"; status: FailureStatus; error: FailureBody };

/** What a watcher of a strike wants besides its outcome. */
export interface WatchOptions {
  /** Stream the inference and send its tokens (OpenAI streaming); otherwise progress only (MCP). */
  tokens: boolean;
}
