// Inputs of the MCP tools that have no HTTP twin. Tools that mirror an HTTP route (strike,
// classify) take that route's schema unchanged; these cover the rest. The MCP SDK turns them
// into each tool's JSON Schema and validates arguments with them before a tool runs.
import { z } from "@hono/zod-openapi";
import { CovenantId } from "./common";
import { PoolTier } from "./models";

const covenantId = CovenantId.optional().describe("Covenant to look at; the tenant's `default` when absent.");

/** Tools that take no arguments still refuse unknown ones, so a typo is an error, not ignored. */
export const NoArguments = z.object({}).strict();

export const CovenantStatusArgs = z.object({ covenant_id: covenantId }).strict();
export type CovenantStatusArgs = z.infer<typeof CovenantStatusArgs>;

export const AllocationMetricsArgs = z
  .object({
    allocation_id: z.string().min(1).max(128).describe("An allocation one of the tenant's covenants holds as a lease."),
    covenant_id: CovenantId.optional().describe("The covenant holding it; every covenant of the tenant is searched when absent."),
  })
  .strict();
export type AllocationMetricsArgs = z.infer<typeof AllocationMetricsArgs>;

const instant = z.string().datetime({ offset: true });

export const UsageArgs = z
  .object({
    covenant_id: covenantId,
    from: instant.optional().describe("ISO 8601; start of today (UTC) when absent."),
    to: instant.optional().describe("ISO 8601; now when absent."),
  })
  .strict()
  .refine((a) => a.from === undefined || a.to === undefined || Date.parse(a.from) < Date.parse(a.to), {
    path: ["from"],
    message: "`from` must be before `to`",
  });
export type UsageArgs = z.infer<typeof UsageArgs>;

/** A Hosted.AI pool as the `list_pools` tool reports it (the upstream's own field names). */
export const PoolView = z.object({
  id: z.string(),
  tier: PoolTier,
  region: z.string(),
  gpu_model: z.string(),
  gpu_count: z.number().int(),
  vram_mb_per_gpu: z.number(),
  tflops_per_gpu: z.number(),
  free_vram_mb: z.number(),
  free_tflops: z.number(),
  price_per_gpu_hour: z.number(),
  status: z.enum(["available", "degraded", "down"]),
});

export const PoolList = z.object({ pools: z.array(PoolView) });
export type PoolList = z.infer<typeof PoolList>;

export const AllocationMetricsView = z.object({
  allocation_id: z.string(),
  covenant_id: z.string(),
  pool_id: z.string(),
  model: z.string(),
  gpu_utilization: z.number(),
  memory_used_mb: z.number(),
  inference_count: z.number().int(),
  average_latency_ms: z.number(),
});
export type AllocationMetricsView = z.infer<typeof AllocationMetricsView>;
