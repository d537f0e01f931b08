// The latency model of one Apple-silicon Mac running mlx_lm: pure arithmetic, no clock, no I/O.

/** Decode throughput scales inversely with parameter count: a 2B model decodes ~300 tokens/s. */
const DECODE_TOKENS_PER_S_PER_BILLION = 600;
/** Prompt processing is batched, so it runs this many times faster than decoding. */
const PREFILL_SPEEDUP = 30;
const TIME_TO_FIRST_TOKEN_MS = 40;
const MODEL_LOAD_MS = 1500;
/** Used when a configured model id carries no size, so it still gets a plausible speed. */
const DEFAULT_PARAMS_B = 7;

/** Parameter count in billions read from the model id ("gemma-2b-it" → 2, "qwen-14b" → 14). */
export function paramsBillions(model: string): number {
  const match = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z])/i.exec(model);
  const value = match?.[1] === undefined ? NaN : Number(match[1]);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_PARAMS_B;
}

export function decodeTokensPerSecond(model: string): number {
  return DECODE_TOKENS_PER_S_PER_BILLION / paramsBillions(model);
}

export interface GenerationTimings {
  /** Time to swap the requested model into memory; 0 when it is already loaded. */
  loadMs: number;
  /** From the end of loading to the first generated token: fixed overhead plus prefill. */
  firstTokenMs: number;
  /** Gap between consecutive generated tokens. */
  tokenIntervalMs: number;
  /** From the start of the slot to the last token. */
  totalMs: number;
}

export interface GenerationWork {
  model: string;
  promptTokens: number;
  completionTokens: number;
  needsLoad: boolean;
  scale: number;
}

export function generationTimings(work: GenerationWork): GenerationTimings {
  const decodeRate = decodeTokensPerSecond(work.model);
  const prefillRate = decodeRate * PREFILL_SPEEDUP;
  const scale = Math.max(0, work.scale);
  const loadMs = work.needsLoad ? MODEL_LOAD_MS * scale : 0;
  const prefillMs = (work.promptTokens / prefillRate) * 1000;
  const firstTokenMs = (TIME_TO_FIRST_TOKEN_MS + prefillMs) * scale;
  const tokenIntervalMs = (1000 / decodeRate) * scale;
  const laterTokens = Math.max(0, work.completionTokens - 1);
  return {
    loadMs,
    firstTokenMs,
    tokenIntervalMs,
    totalMs: loadMs + firstTokenMs + laterTokens * tokenIntervalMs,
  };
}
