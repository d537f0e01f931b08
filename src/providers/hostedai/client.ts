import { tracedUpstreamStream } from "../../telemetry/upstream";
import { deadline, send, sendJson, type CallOptions, type Transport } from "../http";
import { upstreamErrorFrom } from "../errors";
import { mapMessages, sseMessages, streamEventNote, type UpstreamStreamEvent } from "../stream";
import { isAuthRejected, PROVIDER } from "./errors";
import {
  hostedAiStreamEvents,
  type AllocationMetrics,
  type AllocationRequest,
  type InferenceRequest,
  type InferenceResponse,
  type ReleaseResponse,
  type TokenResponse,
  type WireAllocation,
  type WirePool,
} from "./mapping";
import { cachedToken, dropToken } from "./token-cache";

export interface HostedAiConfig extends Transport {
  apiKey: string;
  /** Per-call timeout; inference gets its own, longer one. */
  timeoutMs?: number;
  inferenceTimeoutMs?: number;
}

/**
 * The Hosted.AI connector. It speaks the public API only, so it works unchanged against the real
 * service or the emulator; the JWT is fetched once per isolate and reused until near expiry.
 */
export class HostedAiClient {
  private readonly tokenKey: string;
  private readonly timeoutMs: number;
  private readonly inferenceTimeoutMs: number;

  constructor(private readonly config: HostedAiConfig) {
    this.tokenKey = `${config.baseUrl}\u0000${config.apiKey}`;
    this.timeoutMs = config.timeoutMs ?? 10_000;
    this.inferenceTimeoutMs = config.inferenceTimeoutMs ?? 120_000;
  }

  listPools(): Promise<WirePool[]> {
    return this.call<{ pools: WirePool[] }>("pools", "GET", "/api/v1/pools").then((r) => r.pools);
  }

  allocate(req: AllocationRequest, timeoutMs?: number): Promise<WireAllocation> {
    return this.call("allocate", "POST", "/api/v1/allocations", { body: req, timeoutMs, about: { pool: req.pool_id } });
  }

  getAllocation(id: string): Promise<WireAllocation> {
    return this.call("get", "GET", `/api/v1/allocations/${encodeURIComponent(id)}`, { about: { allocationId: id } });
  }

  listAllocations(): Promise<WireAllocation[]> {
    return this.call<{ allocations: WireAllocation[] }>("list", "GET", "/api/v1/allocations?status=active").then((r) => r.allocations);
  }

  infer(allocationId: string, req: InferenceRequest, timeoutMs = this.inferenceTimeoutMs): Promise<InferenceResponse> {
    return this.call("infer", "POST", `/api/v1/inference/${encodeURIComponent(allocationId)}`, { body: req, timeoutMs, about: { allocationId, model: req.model } });
  }

  /**
   * Streaming inference. Resolves once the upstream has answered with a stream (within
   * `headersTimeoutMs`); the caller reads events and owns every later deadline, and cancels the
   * returned stream to abort.
   */
  async inferStream(allocationId: string, req: InferenceRequest, headersTimeoutMs: number): Promise<ReadableStream<UpstreamStreamEvent>> {
    const path = `/api/v1/inference/${encodeURIComponent(allocationId)}`;
    const attempt = async (): Promise<ReadableStream<UpstreamStreamEvent>> => {
      const token = await this.token();
      // The span lasts until the stream's last event: that is when the call is over.
      return tracedUpstreamStream({ provider: PROVIDER, op: "infer", method: "POST", path, allocationId, model: req.model }, async (call) => {
        const { signal, clear } = deadline(headersTimeoutMs);
        const res = await send(
          PROVIDER,
          this.config,
          path,
          { method: "POST", body: { ...req, stream: true }, headers: { authorization: `Bearer ${token}` }, timeoutMs: headersTimeoutMs, traceparent: call.traceparent },
          signal,
        ).finally(clear);
        call.status(res.status);
        if (!res.ok) {
          const err = await upstreamErrorFrom(PROVIDER, res);
          if (isAuthRejected(err)) dropToken(this.tokenKey, token);
          throw err;
        }
        if (!res.body) throw await upstreamErrorFrom(PROVIDER, res);
        return mapMessages(sseMessages(res.body), hostedAiStreamEvents);
      }, streamEventNote);
    };
    try {
      return await attempt();
    } catch (err) {
      if (isAuthRejected(err)) return attempt();
      throw err;
    }
  }

  metrics(allocationId: string): Promise<AllocationMetrics> {
    return this.call("metrics", "GET", `/api/v1/allocations/${encodeURIComponent(allocationId)}/metrics`, { about: { allocationId } });
  }

  release(allocationId: string): Promise<ReleaseResponse> {
    return this.call("release", "DELETE", `/api/v1/allocations/${encodeURIComponent(allocationId)}`, { about: { allocationId } });
  }

  private token(): Promise<string> {
    return cachedToken(this.tokenKey, async () => {
      const res = await sendJson<TokenResponse>(PROVIDER, this.config, "/api/v1/auth/token", {
        op: "token",
        method: "POST",
        body: { api_key: this.config.apiKey },
        timeoutMs: this.timeoutMs,
      });
      return { token: res.access_token, expiresInS: res.expires_in };
    });
  }

  /**
   * One authenticated call, named `op` in its span and log line; a refused token (expired early,
   * rotated secret) is replaced once.
   */
  private async call<T>(op: string, method: string, path: string, opts: { body?: unknown; timeoutMs?: number; about?: CallOptions["about"] } = {}): Promise<T> {
    const attempt = async (): Promise<T> => {
      const token = await this.token();
      try {
        return await sendJson<T>(PROVIDER, this.config, path, {
          op,
          method,
          body: opts.body,
          timeoutMs: opts.timeoutMs ?? this.timeoutMs,
          about: opts.about,
          headers: { authorization: `Bearer ${token}` },
        });
      } catch (err) {
        if (isAuthRejected(err)) dropToken(this.tokenKey, token);
        throw err;
      }
    };
    try {
      return await attempt();
    } catch (err) {
      if (isAuthRejected(err)) return attempt();
      throw err;
    }
  }
}
