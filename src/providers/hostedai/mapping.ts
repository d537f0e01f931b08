// Wire shapes of the Hosted.AI API and their mapping to what the policy core reads.
import type { PoolSnapshot } from "../../policy";
import type { PoolTier } from "../../schema";
import type { UpstreamStreamEvent } from "../stream";

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_at?: string;
}

export interface WirePool {
  id: string;
  tier: PoolTier;
  region: string;
  gpu_model: string;
  gpu_count: number;
  vram_mb_per_gpu: number;
  tflops_per_gpu: number;
  total_vram_mb: number;
  free_vram_mb: number;
  total_tflops: number;
  free_tflops: number;
  price_per_gpu_hour: number;
  status: "available" | "degraded" | "down";
}

export interface AllocationRequest {
  pool_id: string;
  requirements: { min_tflops: number; min_vram_mb: number; max_vram_mb?: number };
  duration_seconds: number;
  preemptible: boolean;
  metadata?: Record<string, string>;
}

export interface WireAllocation {
  allocation_id: string;
  pool_id: string;
  gpu_id: string;
  status: "active" | "released" | "expired" | "preempted";
  vram_mb: number;
  tflops: number;
  preemptible: boolean;
  duration_seconds: number;
  created_at: string;
  expires_at: string;
  price_per_hour: number;
  metadata?: Record<string, string>;
}

export interface InferenceRequest {
  model: string;
  prompt: string;
  max_tokens: number;
  temperature: number;
}

export interface InferenceResponse {
  allocation_id: string;
  model: string;
  text: string;
  finish_reason: "stop" | "length";
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  latency_ms: number;
  cost_usd: number;
}

export interface AllocationMetrics {
  allocation_id: string;
  gpu_utilization: number;
  memory_used_mb: number;
  inference_count: number;
  average_latency_ms: number;
}

export interface ReleaseResponse {
  allocation_id: string;
  status: string;
  billed_seconds: number;
  cost_usd: number;
}

export function toPoolSnapshot(p: WirePool): PoolSnapshot {
  return {
    id: p.id,
    tier: p.tier,
    status: p.status,
    vramMbPerGpu: p.vram_mb_per_gpu,
    tflopsPerGpu: p.tflops_per_gpu,
    freeVramMb: p.free_vram_mb,
    freeTflops: p.free_tflops,
    pricePerGpuHour: p.price_per_gpu_hour,
  };
}

/**
 * The Hosted.AI streaming inference events: `token`, then `done`, or `error`. A token event may
 * carry the usage and cost so far (ASSUMPTION, as the emulator sends them, like vLLM's
 * continuous usage): they are what a stream that breaks was billed. Without them the gateway
 * estimates that part's cost from the slice's price and the time it streamed.
 */
export function hostedAiStreamEvents(m: { event?: string; data: string }): UpstreamStreamEvent[] {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(m.data) as Record<string, unknown>;
  } catch {
    return [{ type: "error", errorType: "bad_response", message: "stream event is not JSON" }];
  }
  switch (m.event) {
    case "token": {
      const usage = data.usage as InferenceResponse["usage"] | undefined;
      return [
        {
          type: "token",
          text: String(data.text ?? ""),
          ...(usage && typeof usage.completion_tokens === "number" ? { usage } : {}),
          ...(typeof data.cost_usd === "number" ? { costUsd: data.cost_usd } : {}),
        },
      ];
    }
    case "done":
      return [
        {
          type: "done",
          finishReason: data.finish_reason === "length" ? "length" : "stop",
          usage: data.usage as InferenceResponse["usage"],
          costUsd: typeof data.cost_usd === "number" ? data.cost_usd : undefined,
        },
      ];
    case "error": {
      const e = (data.error ?? {}) as { type?: string; message?: string };
      return [{ type: "error", errorType: e.type ?? "upstream_error", message: e.message ?? "the upstream ended the stream with an error" }];
    }
    default:
      return [];
  }
}
