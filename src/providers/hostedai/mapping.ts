// What the integration document states about Hosted.AI, as written: the allocation request (with
// `preemptible` as a property of the allocation, on any pool, and `metadata` carrying `tenant_id`
// and `workload_id`), the inference request, and the metrics answer. Everything it leaves open is
// in assumptions.ts.

/** `POST /api/v1/allocations`, as the document gives it. */
export interface AllocationRequest {
  pool_id: string;
  requirements: { min_tflops: number; min_vram_mb: number; max_vram_mb?: number };
  duration_seconds: number;
  /** Any pool may grant a preemptible allocation (the document's example: `standard-us-east`). */
  preemptible: boolean;
  /** A string map "ready for tenant_id, workload_id": see allocationMetadata. */
  metadata?: Record<string, string>;
}

/** `POST /api/v1/inference/{allocation_id}`, as the document gives it. */
export interface InferenceRequest {
  model: string;
  prompt: string;
  max_tokens: number;
  temperature: number;
}

/** `GET /api/v1/allocations/{allocation_id}/metrics`, as the document gives it. */
export interface AllocationMetrics {
  gpu_utilization: number;
  memory_used_mb: number;
  inference_count: number;
  average_latency_ms: number;
}

/**
 * The metadata every allocation carries: exactly the document's keys. `tenant_id` is the tenant,
 * `workload_id` the covenant the allocation was made for. Nothing else is needed to recognise a
 * covenant's own allocations after a restart: the covenant object is named by these two (see
 * ownedBy), so no key of our own is added.
 */
export function allocationMetadata(tenant: string, covenantId: string): { tenant_id: string; workload_id: string } {
  return { tenant_id: tenant, workload_id: covenantId };
}

/** Whether an allocation's metadata names this tenant's covenant. */
export function ownedBy(metadata: Record<string, string> | undefined, tenant: string, covenantId: string): boolean {
  return metadata?.tenant_id === tenant && metadata?.workload_id === covenantId;
}
