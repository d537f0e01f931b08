// OTEL_TRACES_SAMPLER semantics: a caller's sampled flag decides only under a parent-based sampler.
import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context } from "@opentelemetry/api";
import { SamplingDecision } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { samplerFrom } from "../src/telemetry/tracing";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

function remoteParent(sampled: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: "00f067aa0ba902b7", traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
}

function decide(env: { OTEL_TRACES_SAMPLER?: string; OTEL_TRACES_SAMPLER_ARG?: string }, parent: Context): SamplingDecision {
  return samplerFrom(env).shouldSample(parent, traceId, "POST /v1/strikes", SpanKind.SERVER, {}, []).decision;
}

describe("samplerFrom", () => {
  it("by default ignores a caller's sampled flag: ratio 0 records nothing, ratio 1 everything", () => {
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: "0" }, remoteParent(true))).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: "1" }, remoteParent(false))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({}, remoteParent(false))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }, remoteParent(true))).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER: "always_off" }, remoteParent(true))).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER: "always_on" }, remoteParent(false))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it("follows the caller's flag only when the operator asks for parent-based sampling", () => {
    const env = { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" };
    expect(decide(env, remoteParent(true))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(env, remoteParent(false))).toBe(SamplingDecision.NOT_RECORD);
    // A new trace (no parent) falls to the root sampler: ratio 0.
    expect(decide(env, context.active())).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER: "parentbased_always_on" }, remoteParent(false))).toBe(SamplingDecision.NOT_RECORD);
  });

  it("reads a bad ratio as 1 and clamps one out of range", () => {
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: "lots" }, remoteParent(false))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({ OTEL_TRACES_SAMPLER_ARG: "-3" }, remoteParent(true))).toBe(SamplingDecision.NOT_RECORD);
  });
});
