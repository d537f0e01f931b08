import { deadline, send, sendJson, type Transport } from "../http";
import { upstreamErrorFrom } from "../errors";
import { mapMessages, sseMessages, type UpstreamStreamEvent } from "../stream";
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
    return this.call<{ pools: WirePool[] }>("GET", "/api/v1/pools").then((r) => r.pools);
  }

  allocate(req: AllocationRequest, timeoutMs?: number): Promise<WireAllocation> {
    return this.call("POST", "/api/v1/allocations", req, timeoutMs);
  }

  getAllocation(id: string): Promise<WireAllocation> {
    return this.call("GET", `/api/v1/allocations/${encodeURIComponent(id)}`);
  }

  listAllocations(): Promise<WireAllocation[]> {
    return this.call<{ allocations: WireAllocation[] }>("GET", "/api/v1/allocations?status=active").then((r) => r.allocations);
  }

  infer(allocationId: string, req: InferenceRequest, timeoutMs = this.inferenceTimeoutMs): Promise<InferenceResponse> {
    return this.call("POST", `/api/v1/inference/${encodeURIComponent(allocationId)}`, req, timeoutMs);
  }

  /**
   * Streaming inference. Resolves once the upstream has answered with a stream (within
   * `headersTimeoutMs`); the caller reads events and owns every later deadline, and cancels the
   * returned stream to abort.
   */
  async inferStream(allocationId: string, req: InferenceRequest, headersTimeoutMs: number): Promise<ReadableStream<UpstreamStreamEvent>> {
    const attempt = async (): Promise<ReadableStream<UpstreamStreamEvent>> => {
      const token = await this.token();
      const { signal, clear } = deadline(headersTimeoutMs);
      const res = await send(
        PROVIDER,
        this.config,
        `/api/v1/inference/${encodeURIComponent(allocationId)}`,
        { method: "POST", body: { ...req, stream: true }, headers: { authorization: `Bearer ${token}` }, timeoutMs: headersTimeoutMs },
        signal,
      ).finally(clear);
      if (!res.ok) {
        const err = await upstreamErrorFrom(PROVIDER, res);
        if (isAuthRejected(err)) dropToken(this.tokenKey, token);
        throw err;
      }
      if (!res.body) throw await upstreamErrorFrom(PROVIDER, res);
      return mapMessages(sseMessages(res.body), hostedAiStreamEvents);
    };
    try {
      return await attempt();
    } catch (err) {
      if (isAuthRejected(err)) return attempt();
      throw err;
    }
  }

  metrics(allocationId: string): Promise<AllocationMetrics> {
    return this.call("GET", `/api/v1/allocations/${encodeURIComponent(allocationId)}/metrics`);
  }

  release(allocationId: string): Promise<ReleaseResponse> {
    return this.call("DELETE", `/api/v1/allocations/${encodeURIComponent(allocationId)}`);
  }

  private token(): Promise<string> {
    return cachedToken(this.tokenKey, async () => {
      const res = await sendJson<TokenResponse>(PROVIDER, this.config, "/api/v1/auth/token", {
        method: "POST",
        body: { api_key: this.config.apiKey },
        timeoutMs: this.timeoutMs,
      });
      return { token: res.access_token, expiresInS: res.expires_in };
    });
  }

  /** One authenticated call; a refused token (expired early, rotated secret) is replaced once. */
  private async call<T>(method: string, path: string, body?: unknown, timeoutMs: number = this.timeoutMs): Promise<T> {
    const attempt = async (): Promise<T> => {
      const token = await this.token();
      try {
        return await sendJson<T>(PROVIDER, this.config, path, {
          method,
          body,
          timeoutMs,
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
