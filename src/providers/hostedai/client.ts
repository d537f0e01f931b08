import { sendJson, type Transport } from "../http";
import { isAuthRejected, PROVIDER } from "./errors";
import type {
  AllocationMetrics,
  AllocationRequest,
  InferenceRequest,
  InferenceResponse,
  ReleaseResponse,
  TokenResponse,
  WireAllocation,
  WirePool,
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
