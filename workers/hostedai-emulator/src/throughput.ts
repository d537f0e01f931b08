// How long an inference takes on a slice. Decoding is memory-bandwidth bound, so tokens/s falls
// with parameter count; a slice with less compute than the model wants runs proportionally slower;
// concurrent requests on one slice share it, batched, so each slows by sqrt(n) rather than n.
import type { ModelSpec } from "./catalogue";

/** Decode tokens per second for a one-billion-parameter model with full compute. */
export const DECODE_TOKENS_PER_S_AT_1B = 1000;
/** Prompt processing is parallel across tokens: this many times faster than decoding. */
export const PREFILL_SPEEDUP = 40;
/** Fixed cost before the first token: scheduling, kernel launch, network. */
export const FIRST_TOKEN_OVERHEAD_MS = 25;

export interface InferenceShape {
  readonly model: ModelSpec;
  /** TFLOPS of the allocation running it. */
  readonly sliceTflops: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Inferences running on the slice including this one (at least 1). */
  readonly concurrent: number;
  /** Multiplies every delay; 0 makes the inference instantaneous. */
  readonly latencyScale: number;
}

export interface InferenceTiming {
  readonly decodeTokensPerSecond: number;
  readonly prefillTokensPerSecond: number;
  /** Ms from request to first token, scaled. */
  readonly timeToFirstTokenMs: number;
  /** Ms between consecutive tokens, scaled. */
  readonly interTokenMs: number;
  readonly completionTokens: number;
  /** Ms from request to last token, scaled. */
  readonly totalMs: number;
}

/** The part of a timing a stream needs to pace its tokens. */
export type TokenTiming = Pick<InferenceTiming, "timeToFirstTokenMs" | "interTokenMs" | "completionTokens">;

export function decodeTokensPerSecond(model: ModelSpec, sliceTflops: number, concurrent: number): number {
  const computeShare = Math.min(1, sliceTflops / model.tflops);
  return ((DECODE_TOKENS_PER_S_AT_1B / model.params_b) * computeShare) / Math.sqrt(Math.max(1, concurrent));
}

export function planInference(shape: InferenceShape): InferenceTiming {
  const decode = decodeTokensPerSecond(shape.model, shape.sliceTflops, shape.concurrent);
  const prefill = decode * PREFILL_SPEEDUP;
  const scale = shape.latencyScale;
  const interTokenMs = (1000 / decode) * scale;
  const prefillMs = ((shape.promptTokens * 1000) / prefill) * scale;
  const timeToFirstTokenMs = FIRST_TOKEN_OVERHEAD_MS * scale + prefillMs + interTokenMs;
  const totalMs =
    shape.completionTokens > 0
      ? timeToFirstTokenMs + (shape.completionTokens - 1) * interTokenMs
      : FIRST_TOKEN_OVERHEAD_MS * scale + prefillMs;
  return {
    decodeTokensPerSecond: decode,
    prefillTokensPerSecond: prefill,
    timeToFirstTokenMs,
    interTokenMs,
    completionTokens: shape.completionTokens,
    totalMs,
  };
}

/**
 * When each completion token is ready, in ms after the request arrived. The last entry equals
 * `totalMs`; a streaming response paces its chunks by this schedule.
 */
export function* tokenSchedule(timing: TokenTiming): Generator<{ index: number; atMs: number }> {
  for (let index = 0; index < timing.completionTokens; index++) {
    yield { index, atMs: timing.timeToFirstTokenMs + index * timing.interTokenMs };
  }
}
