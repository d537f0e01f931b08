// What crosses the native RPC boundary between the edge worker and a covenant object.
import type { StrikeResponse } from "../schema";

export interface StrikeInput {
  strikeId: string;
  tenant: string;
  covenantId: string;
  model: string;
  promptText: string;
  promptTokens: number;
  maxTokens: number;
  temperature: number;
  latencySensitive: boolean;
}

export type StrikeSuccess = { ok: true; strike: Omit<StrikeResponse, "timings" | "object" | "id" | "created"> & {
  timings: Omit<StrikeResponse["timings"], "classify_ms" | "total_ms">;
} };

export interface FailureBody {
  type: string;
  message: string;
  param?: string;
  retry_after_s?: number;
  upstream?: { provider: string; status: number; type: string };
}

export type StrikeFailure = { ok: false; status: 400 | 402 | 409 | 422 | 429 | 502 | 503 | 504; error: FailureBody };

export type StrikeOutcome = StrikeSuccess | StrikeFailure;
