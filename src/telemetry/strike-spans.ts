/**
 * Spans of a strike inside its covenant object: the covenant call (RPC or alarm), each strike or
 * fusion fragment the runner runs, and each attempt on a target. They set who the work is for in
 * the active context, so upstream calls made underneath carry tenant, covenant and strike.
 */
import { context, createContextKey, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { AttemptResult } from "../covenant/attempt";
import type { StrikeInput, StrikeOutcome } from "../covenant/types";
import { contextFromTraceparent, failSpan, inSpan, relayStream, startSpan, tracingEnabled, whoIsActive, withWho, type Who } from "./tracing";
import { withAttemptPool, withUpstreamSink, type UpstreamSink } from "./upstream-failures";

/** Attempts made so far in this strike, by target: the retry count of the next one. */
const ATTEMPTS = createContextKey("homeskillet.attempts");

/** A covenant object's name is `<tenant>:<covenant id>`: who its housekeeping works for. */
export function whoFromObjectName(name: string | undefined): Who {
  const at = name?.indexOf(":") ?? -1;
  return name && at > 0 ? { tenant: name.slice(0, at), covenant: name.slice(at + 1) } : {};
}

function whoAttributes(who: Who): Attributes {
  return {
    ...(who.tenant && { "homeskillet.tenant": who.tenant }),
    ...(who.covenant && { "homeskillet.covenant": who.covenant }),
    ...(who.strikeId && { "homeskillet.strike_id": who.strikeId }),
  };
}

/** Records a strike's outcome on its span: where it ran, tokens, cost, or the error it ended with. */
export function describeOutcome(span: Span, outcome: StrikeOutcome): void {
  if (!span.isRecording()) return;
  if (!outcome.ok) {
    span.setAttribute("http.response.status_code", outcome.status);
    failSpan(span, { message: outcome.error.message }, outcome.error.type);
    return;
  }
  const s = outcome.strike;
  span.setAttributes({
    "gen_ai.response.model": s.model,
    "homeskillet.pool": s.pool_id,
    "homeskillet.allocation_id": s.allocation_id,
    "homeskillet.lease_reused": s.lease_reused,
    "gen_ai.usage.input_tokens": s.usage.prompt_tokens,
    "gen_ai.usage.output_tokens": s.usage.completion_tokens,
    "homeskillet.cost_usd": s.cost_usd,
    ...(outcome.replayed && { "homeskillet.idempotent_replay": true }),
  });
  const fusion = s.fusion;
  if (fusion) {
    span.setAttributes({ "homeskillet.fusion.strategy": fusion.plan.strategy, "homeskillet.fusion.fragments": fusion.fragments.length, "homeskillet.cache_hits": fusion.totals.cache_hits });
    // Fragments answered from a cache never reach the runner, so they have no span of their own.
    for (const f of fusion.fragments) {
      if (f.cache !== "miss") span.addEvent("fragment served without running", { "homeskillet.fragment_id": f.id, "homeskillet.cache": f.cache, "homeskillet.cache_hit": true });
    }
  }
}

/** Who a strike input is for, and where its trace continues from (the edge, over RPC). */
type StrikeCall = Pick<StrikeInput, "strikeId" | "tenant" | "covenantId" | "traceparent">;

function covenantParent(input: StrikeCall, sink: UpstreamSink | undefined): { who: Who; parent: ReturnType<typeof context.active> } {
  const who = { tenant: input.tenant, covenant: input.covenantId, strikeId: input.strikeId };
  // A remote parent: native RPC does not carry the edge's context by itself. The strike's attempt
  // count starts here, so the runner's traceStrike needs no context of its own for it.
  const parent = withUpstreamSink(withWho(contextFromTraceparent(input.traceparent), who), sink).setValue(ATTEMPTS, new Map<string, number>());
  return { who, parent };
}

/**
 * A strike call into the covenant object (`strike`), continuing the edge's trace. `sink` hears of
 * every upstream call made for it that fails (so do the other covenant calls' sinks).
 */
export function traceCovenantStrike(input: StrikeCall, run: () => Promise<StrikeOutcome>, sink?: UpstreamSink): Promise<StrikeOutcome> {
  const { who, parent } = covenantParent(input, sink);
  return inSpan("covenant strike", tracingEnabled() ? { attributes: whoAttributes(who) } : {}, async (span) => {
    const outcome = await run();
    describeOutcome(span, outcome);
    return outcome;
  }, parent);
}

/** A streamed strike call (`strikeStream`): its span lasts until the stream it answers with ends. */
export function traceCovenantStream(input: StrikeCall, open: () => ReadableStream<Uint8Array>, afterEnd?: () => void, sink?: UpstreamSink): ReadableStream<Uint8Array> {
  const { who, parent } = covenantParent(input, sink);
  // Tracing off: no span to end and nothing to export, so the stream is not read through a relay
  // (a JavaScript stream more on every chunk of every streamed strike); `afterEnd`, the export of
  // its spans, has nothing to do either.
  if (!tracingEnabled()) return context.with(parent, open);
  const span = startSpan("covenant strike stream", { attributes: whoAttributes(who) }, parent);
  // The strike runs on after `open` returns: everything it starts inherits this context.
  const stream = context.with(trace.setSpan(parent, span), open);
  return relayStream(stream, {
    onEnd(how) {
      if (how instanceof Error) failSpan(span, how);
      else if (how === "cancelled") span.setAttribute("homeskillet.stream_cancelled", true);
      span.end();
      afterEnd?.();
    },
  });
}

/** Covenant housekeeping (the alarm, a retirement): its upstream calls are traced under it. */
export function traceCovenantWork<T>(name: string, objectName: string | undefined, run: () => Promise<T>, sink?: UpstreamSink): Promise<T> {
  const who = whoFromObjectName(objectName);
  return inSpan(name, { attributes: whoAttributes(who) }, () => run(), withUpstreamSink(withWho(context.active(), who), sink));
}

/**
 * One strike as the runner runs it. A fusion fragment (`<strike id>.<fragment id>`) gets a span of
 * its own under the covenant's; a plain strike is already the covenant call's span, so it only
 * starts counting attempts (a second span would repeat the first at a cost on every strike).
 */
export function traceStrike(input: Pick<StrikeInput, "strikeId" | "tenant" | "covenantId" | "model">, run: () => Promise<StrikeOutcome>): Promise<StrikeOutcome> {
  const dot = input.strikeId.indexOf(".");
  const active = context.active();
  // Called inside the covenant call that brought this very strike: its context already says so.
  if (dot < 0 && active.getValue(ATTEMPTS) && whoIsActive(active).strikeId === input.strikeId) return run();
  const who = { tenant: input.tenant, covenant: input.covenantId, strikeId: input.strikeId };
  const parent = withWho(active, who).setValue(ATTEMPTS, new Map<string, number>());
  if (dot < 0) return context.with(parent, run);
  const attributes: Attributes = {
    ...whoAttributes(who),
    "homeskillet.fragment_id": input.strikeId.slice(dot + 1),
    "homeskillet.parent_strike_id": input.strikeId.slice(0, dot),
    ...(input.model && { "gen_ai.request.model": input.model }),
  };
  return inSpan("fragment", { attributes }, async (span) => {
    const outcome = await run();
    describeOutcome(span, outcome);
    return outcome;
  }, parent);
}

/** One try on one target of the fallback chain: which, how many tries before it, its breaker. */
export function traceAttempt(
  target: { id: string; kind: string },
  about: { model: string; breakerState: string },
  run: () => Promise<AttemptResult>,
): Promise<AttemptResult> {
  const tries = context.active().getValue(ATTEMPTS) as Map<string, number> | undefined;
  const retryCount = tries?.get(target.id) ?? 0;
  tries?.set(target.id, retryCount + 1);
  // Tenant, covenant and strike are on the covenant's span above: not repeated on every attempt.
  const attributes: Attributes | undefined = tracingEnabled()
    ? {
        "homeskillet.target": target.id,
        "homeskillet.retry_count": retryCount,
        "homeskillet.breaker_state": about.breakerState,
        "gen_ai.request.model": about.model,
      }
    : undefined;
  // Calls made in the attempt (allocate, infer, the release after it) are about its target.
  const parent = withAttemptPool(context.active(), target.kind === "local" ? "local" : target.id);
  return inSpan(`attempt ${target.id}`, { attributes }, async (span) => {
    const r = await run();
    // Where it ran; tokens and cost are on the inference's span and the strike's.
    if (span.isRecording()) {
      span.setAttributes({ "homeskillet.pool": r.poolId, "homeskillet.allocation_id": r.allocationId, "homeskillet.lease_reused": r.leaseReused, "homeskillet.queue_ms": r.queueMs });
    }
    return r;
  }, parent);
}
