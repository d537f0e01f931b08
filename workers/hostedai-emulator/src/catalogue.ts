// The hardware and models the emulated cluster knows about. The pool catalogue can be replaced
// with POOLS_JSON; the model catalogue is fixed because the throughput model is calibrated on it.
import { z } from "zod";

/**
 * The pool types of the integration document. Preemptibility is not a pool type: it is a property
 * of an allocation (`preemptible: true`), which any pool grants at a discount and evicts first.
 */
export const POOL_TIERS = ["standard", "premium", "dedicated"] as const;
export type PoolTier = (typeof POOL_TIERS)[number];

/** A preemptible slice's price, as a share of the same slice's on-demand price, unless a pool sets its own. */
export const PREEMPTIBLE_PRICE_FACTOR = 0.3;

export const POOL_STATUSES = ["available", "degraded", "down"] as const;
export type PoolStatus = (typeof POOL_STATUSES)[number];

export const PoolSpecSchema = z.object({
  id: z.string().min(1).max(100),
  tier: z.enum(POOL_TIERS),
  region: z.string().min(1).max(50),
  gpu_model: z.string().min(1).max(100),
  gpu_count: z.number().int().min(0).max(4096),
  vram_mb_per_gpu: z.number().int().positive(),
  tflops_per_gpu: z.number().positive(),
  price_per_gpu_hour: z.number().nonnegative(),
  /** What a GPU-hour costs in preemptible slices; PREEMPTIBLE_PRICE_FACTOR × the on-demand price when absent. */
  preemptible_price_per_gpu_hour: z.number().nonnegative().optional(),
  status: z.enum(POOL_STATUSES).default("available"),
}).refine((p) => p.preemptible_price_per_gpu_hour === undefined || p.preemptible_price_per_gpu_hour <= p.price_per_gpu_hour, {
  path: ["preemptible_price_per_gpu_hour"],
  message: "a preemptible GPU-hour cannot cost more than an on-demand one",
});
/** A pool as the cluster keeps it: every price resolved. */
export type PoolSpec = z.infer<typeof PoolSpecSchema> & { preemptible_price_per_gpu_hour: number };

/** The pool with its preemptible price filled in. */
function withPrices(p: z.infer<typeof PoolSpecSchema>): PoolSpec {
  return { ...p, preemptible_price_per_gpu_hour: p.preemptible_price_per_gpu_hour ?? Math.round(p.price_per_gpu_hour * PREEMPTIBLE_PRICE_FACTOR * 1e6) / 1e6 };
}

export const DEFAULT_POOLS: readonly PoolSpec[] = [
  pool("standard-us-east", "standard", "A100-80GB", 8, 81920, 312, 2.4),
  pool("premium-us-east", "premium", "H100-80GB", 4, 81920, 989, 4.9),
  pool("dedicated-us-east", "dedicated", "H100-80GB", 2, 81920, 989, 6.5),
];

function pool(
  id: string,
  tier: PoolTier,
  gpuModel: string,
  gpuCount: number,
  vramMb: number,
  tflops: number,
  price: number,
): PoolSpec {
  return withPrices({
    id,
    tier,
    region: "us-east",
    gpu_model: gpuModel,
    gpu_count: gpuCount,
    vram_mb_per_gpu: vramMb,
    tflops_per_gpu: tflops,
    price_per_gpu_hour: price,
    status: "available",
  });
}

/** Reads POOLS_JSON when present; a malformed catalogue is a deployment error, so it throws. */
export function poolCatalogue(poolsJson: string | undefined): PoolSpec[] {
  if (poolsJson === undefined || poolsJson.trim() === "") return DEFAULT_POOLS.map((p) => ({ ...p }));
  let raw: unknown;
  try {
    raw = JSON.parse(poolsJson);
  } catch {
    throw new Error("POOLS_JSON is not valid JSON");
  }
  const parsed = z.array(PoolSpecSchema).min(1).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`POOLS_JSON is invalid at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? ""}`);
  }
  const ids = new Set(parsed.data.map((p) => p.id));
  if (ids.size !== parsed.data.length) throw new Error("POOLS_JSON repeats a pool id");
  return parsed.data.map(withPrices);
}

export interface ModelSpec {
  readonly id: string;
  /** VRAM the weights and KV cache need, in MB. */
  readonly vram_mb: number;
  /** Compute at which decoding runs at full speed; less compute slows it proportionally. */
  readonly tflops: number;
  /** Parameter count in billions: decode speed is inversely proportional to it. */
  readonly params_b: number;
}

export const MODELS: Readonly<Record<string, ModelSpec>> = {
  "gemma-2b-it": { id: "gemma-2b-it", vram_mb: 2048, tflops: 5, params_b: 2 },
  "mistral-7b": { id: "mistral-7b", vram_mb: 6144, tflops: 10, params_b: 7 },
  "qwen-14b": { id: "qwen-14b", vram_mb: 14336, tflops: 20, params_b: 14 },
  "qwen-32b": { id: "qwen-32b", vram_mb: 32768, tflops: 40, params_b: 32 },
  "qwen-70b": { id: "qwen-70b", vram_mb: 81920, tflops: 100, params_b: 70 },
};

export function findModel(id: string): ModelSpec | undefined {
  return Object.hasOwn(MODELS, id) ? MODELS[id] : undefined;
}
