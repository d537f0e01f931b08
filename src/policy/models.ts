import type { PoolTier } from "../schema";

/** What a model needs from a vGPU slice. The defaults follow the design's model matrix. */
export interface ModelSpec {
  id: string;
  /** Parameters in billions: what decode speed scales with. */
  paramsB: number;
  vramMb: number;
  minTflops: number;
  /** The tier a thoughtful operator would pick; the seed rule ignores it, smarter policies use it. */
  recommendedTier: PoolTier;
  preemptibleOk: boolean;
  contextTokens: number;
}

const GB = 1024;

export const DEFAULT_MODELS: readonly ModelSpec[] = [
  { id: "gemma-2b-it", paramsB: 2, vramMb: 2 * GB, minTflops: 5, recommendedTier: "standard", preemptibleOk: true, contextTokens: 8192 },
  { id: "mistral-7b", paramsB: 7, vramMb: 6 * GB, minTflops: 10, recommendedTier: "standard", preemptibleOk: true, contextTokens: 32768 },
  { id: "qwen-14b", paramsB: 14, vramMb: 14 * GB, minTflops: 20, recommendedTier: "premium", preemptibleOk: false, contextTokens: 32768 },
  { id: "qwen-32b", paramsB: 32, vramMb: 32 * GB, minTflops: 40, recommendedTier: "premium", preemptibleOk: false, contextTokens: 32768 },
  { id: "qwen-70b", paramsB: 70, vramMb: 80 * GB, minTflops: 100, recommendedTier: "dedicated", preemptibleOk: false, contextTokens: 32768 },
];

/** The model used when a request names none (until the classifier picks one). */
export const DEFAULT_MODEL_ID = "mistral-7b";

export type ModelCatalogue = ReadonlyMap<string, ModelSpec>;

export function modelCatalogue(models: readonly ModelSpec[] = DEFAULT_MODELS): ModelCatalogue {
  return new Map(models.map((m) => [m.id, m]));
}
