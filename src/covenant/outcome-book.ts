/**
 * What a finished strike leaves besides its ledger row: its metrics (a fused request as fused,
 * its fragments having been booked as strikes as they finished) and, for a covenant that opted in,
 * its content log line. Replays of an Idempotency-Key never get here.
 */
import type { CovenantContract } from "../schema";
import { logStrikeContent, type MetricsBook } from "../telemetry";
import type { StrikeInput, StrikeOutcome } from "./types";

export function bookOutcome(metrics: MetricsBook, input: StrikeInput, outcome: StrikeOutcome, contract: CovenantContract): void {
  const report = outcome.ok ? outcome.strike.fusion : outcome.error.fusion;
  if (report) {
    metrics.fusedFinished({
      tenant: input.tenant, covenant: input.covenantId, strategy: report.plan.strategy,
      outcome: outcome.ok ? "ok" : "error", ...(outcome.ok ? {} : { errorType: outcome.error.type }),
      cache: report.fragments.filter((f) => f.status === "ok").map((f) => f.cache),
    });
  } else {
    meterStrike(metrics, input, outcome, contract.default_model);
  }
  if (contract.logging?.content) {
    logStrikeContent({
      ...(input.traceparent ? { traceparent: input.traceparent } : {}),
      tenant: input.tenant, covenant: input.covenantId, strikeId: input.strikeId, prompt: input.promptText,
      ...(outcome.ok
        ? { outcome: "ok" as const, model: outcome.strike.model, completion: outcome.strike.output.content }
        : { outcome: "error" as const, errorType: outcome.error.type }),
    });
  }
}

/** One strike (or fused fragment) in the metrics. */
export function meterStrike(metrics: MetricsBook, input: StrikeInput, outcome: StrikeOutcome, defaultModel: string): void {
  const who = { tenant: input.tenant, covenant: input.covenantId };
  if (outcome.ok) {
    const s = outcome.strike;
    metrics.strikeFinished({
      ...who, model: s.model, pool: s.pool_id, outcome: "ok",
      // An answer from the cache (pool `cache`) allocated nothing.
      allocated: !s.lease_reused && s.pool_id !== "local" && s.pool_id !== "cache", allocateMs: s.timings.allocate_ms, inferMs: s.timings.infer_ms,
      costUsd: s.cost_usd, promptTokens: s.usage.prompt_tokens, completionTokens: s.usage.completion_tokens,
    });
  } else {
    metrics.strikeFinished({ ...who, model: input.model ?? defaultModel, pool: null, outcome: "error", errorType: outcome.error.type });
  }
}
