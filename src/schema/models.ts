import { z } from "@hono/zod-openapi";

/** The integration document's pool types. Preemptible is a property of an allocation, on any pool, not a pool type. */
export const PoolTier = z.enum(["standard", "premium", "dedicated"]);
export type PoolTier = z.infer<typeof PoolTier>;

export const ModelCard = z
  .object({
    id: z.string(),
    object: z.literal("model"),
    created: z.number().int(),
    owned_by: z.string(),
    vram_mb: z.number().int(),
    min_tflops: z.number(),
    recommended_tier: PoolTier,
    preemptible_ok: z.boolean(),
    context_tokens: z.number().int(),
  })
  .openapi("Model");

export const ModelList = z.object({ object: z.literal("list"), data: z.array(ModelCard) }).openapi("ModelList");
