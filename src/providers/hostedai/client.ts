import { tracedUpstream, tracedUpstreamStream } from "../../telemetry/upstream";
import { answerFields, deadline, send, type CallOptions, type Transport } from "../http";
import { UpstreamError } from "../errors";
import { sseEvents, streamEventNote, type UpstreamStreamEvent } from "../stream";
import {
  allocationPath,
  assumptionsFrom,
  hostedAiErrorFrom,
  hostedAiStreamEvents,
  readAllocation,
  readAllocations,
  readInference,
  readPools,
  readRelease,
  readToken,
  type HostedAiAssumptions,
  type InferenceResponse,
  type ReleaseResponse,
  type WireAllocation,
  type WirePool,
} from "./assumptions";
import { isAuthRejected, PROVIDER } from "./errors";
import type { AllocationMetrics, AllocationRequest, InferenceRequest } from "./mapping";
import { cachedToken, dropToken } from "./token-cache";

export interface HostedAiConfig extends Transport {
  apiKey: string;
  /** Per-call timeout; inference gets its own, longer one. */
  timeoutMs?: number;
  inferenceTimeoutMs?: number;
  /**
   * What the connector assumes where the integration document is silent (assumptions.ts): the
   * defaults, or `HOSTEDAI_ASSUMPTIONS` as a JSON string, or the parsed object.
   */
  assumptions?: HostedAiAssumptions | string;
}

// The document's own paths (under the API base it names).
const ALLOCATIONS = "/api/v1/allocations";
const inferencePath = (id: string) => `/api/v1/inference/${encodeURIComponent(id)}`;
const metricsPath = (id: string) => `/api/v1/allocations/${encodeURIComponent(id)}/metrics`;

/**
 * The Hosted.AI connector. It speaks the public API only, so it works unchanged against the real
 * service or the emulator; the JWT is fetched once per isolate and reused until near expiry. The
 * calls the document defines are made as it defines them; the rest go through the assumptions.
 */
export class HostedAiClient {
  private readonly tokenKey: string;
  private readonly timeoutMs: number;
  private readonly inferenceTimeoutMs: number;
  readonly assumptions: HostedAiAssumptions;

  constructor(private readonly config: HostedAiConfig) {
    this.assumptions = typeof config.assumptions === "object" ? config.assumptions : assumptionsFrom(config.assumptions);
    this.tokenKey = `${config.baseUrl}\u0000${config.apiKey}\u0000${this.assumptions.auth.path}`;
    this.timeoutMs = config.timeoutMs ?? 10_000;
    this.inferenceTimeoutMs = config.inferenceTimeoutMs ?? 120_000;
  }

  /** ASSUMPTION (assumptions.ts): the pool listing. */
  listPools(): Promise<WirePool[]> {
    return this.call("pools", "GET", this.assumptions.pools.path, (b) => readPools(this.assumptions, b));
  }

  /** As the document defines it. The answer's shape is an assumption (readAllocation). */
  allocate(req: AllocationRequest, timeoutMs?: number): Promise<WireAllocation> {
    return this.call("allocate", "POST", ALLOCATIONS, readAllocation, { body: req, timeoutMs, about: { pool: req.pool_id } });
  }

  /** ASSUMPTION (assumptions.ts): one allocation. */
  getAllocation(id: string): Promise<WireAllocation> {
    return this.call("get", "GET", allocationPath(this.assumptions.allocations.getPath, id), readAllocation, { about: { allocationId: id } });
  }

  /** ASSUMPTION (assumptions.ts): the caller's live allocations. */
  listAllocations(): Promise<WireAllocation[]> {
    return this.call("list", "GET", this.assumptions.allocations.listPath, (b) => readAllocations(this.assumptions, b));
  }

  /** As the document defines it. The answer's shape is an assumption (readInference). */
  infer(allocationId: string, req: InferenceRequest, timeoutMs = this.inferenceTimeoutMs): Promise<InferenceResponse> {
    return this.call("infer", "POST", inferencePath(allocationId), readInference, { body: req, timeoutMs, about: { allocationId, model: req.model } });
  }

  /**
   * ASSUMPTION (assumptions.ts): streaming inference, the document's request with a stream flag.
   * Resolves once the upstream has answered with a stream (within `headersTimeoutMs`); the caller
   * reads events and owns every later deadline, and cancels the returned stream to abort.
   */
  async inferStream(allocationId: string, req: InferenceRequest, headersTimeoutMs: number): Promise<ReadableStream<UpstreamStreamEvent>> {
    const path = inferencePath(allocationId);
    const a = this.assumptions;
    const attempt = async (): Promise<ReadableStream<UpstreamStreamEvent>> => {
      const token = await this.token();
      // The span lasts until the stream's last event: that is when the call is over.
      return tracedUpstreamStream({ provider: PROVIDER, op: "infer", method: "POST", path, allocationId, model: req.model }, async (call, hooks) => {
        const { signal, clear } = deadline(headersTimeoutMs);
        const res = await send(
          PROVIDER,
          this.config,
          path,
          { method: "POST", body: { ...req, [a.stream.flag]: true }, headers: { authorization: `Bearer ${token}` }, timeoutMs: headersTimeoutMs, traceparent: call.traceparent },
          signal,
        ).finally(clear);
        call.status(res.status);
        if (!res.ok) {
          const err = await hostedAiErrorFrom(a, res);
          if (isAuthRejected(err)) dropToken(this.tokenKey, token);
          throw err;
        }
        if (!res.body) throw await hostedAiErrorFrom(a, res);
        return sseEvents(res.body, (m) => hostedAiStreamEvents(m, a), hooks);
      }, streamEventNote);
    };
    try {
      return await attempt();
    } catch (err) {
      if (isAuthRejected(err)) return attempt();
      throw err;
    }
  }

  /** As the document defines it, answer included. */
  metrics(allocationId: string): Promise<AllocationMetrics> {
    return this.call("metrics", "GET", metricsPath(allocationId), (b) => b as AllocationMetrics, { about: { allocationId } });
  }

  /** ASSUMPTION (assumptions.ts): release, and its receipt. */
  release(allocationId: string): Promise<ReleaseResponse> {
    const { method, path } = this.assumptions.release;
    return this.call("release", method, allocationPath(path, allocationId), readRelease, { about: { allocationId } });
  }

  /** ASSUMPTION (assumptions.ts): the auth request; the JWT is reused, as the document says. */
  private token(): Promise<string> {
    const a = this.assumptions.auth;
    return cachedToken(this.tokenKey, () =>
      tracedUpstream({ provider: PROVIDER, op: "token", method: "POST", path: a.path }, (call) =>
        this.receive(a.path, { method: "POST", body: { [a.apiKeyField]: this.config.apiKey }, timeoutMs: this.timeoutMs }, call, (b) => readToken(this.assumptions, b)),
      ),
    );
  }

  /**
   * One authenticated call, named `op` in its span and log line; a refused token (expired early,
   * rotated secret) is replaced once.
   */
  private async call<T>(
    op: string,
    method: string,
    path: string,
    read: (body: unknown) => T,
    opts: { body?: unknown; timeoutMs?: number; about?: CallOptions["about"] } = {},
  ): Promise<T> {
    const attempt = async (): Promise<T> => {
      const token = await this.token();
      try {
        return await tracedUpstream(
          { provider: PROVIDER, op, method, path: path.split("?")[0], ...opts.about },
          (call) => this.receive(path, { method, body: opts.body, timeoutMs: opts.timeoutMs ?? this.timeoutMs, headers: { authorization: `Bearer ${token}` } }, call, read),
          answerFields,
        );
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

  /** Sends one request and reads a 2xx JSON body (the deadline covers the body too), or throws the upstream's error. */
  private async receive<T>(
    path: string,
    opts: CallOptions,
    call: { traceparent: string; status(code: number): void },
    read: (body: unknown) => T,
  ): Promise<T> {
    const { signal, clear } = deadline(opts.timeoutMs);
    try {
      const res = await send(PROVIDER, this.config, path, { ...opts, traceparent: call.traceparent }, signal);
      call.status(res.status);
      if (!res.ok) throw await hostedAiErrorFrom(this.assumptions, res);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        const name = (err as Error)?.name;
        throw name === "TimeoutError" || name === "AbortError"
          ? new UpstreamError(PROVIDER, 0, "timeout", `${PROVIDER} did not answer ${path} within ${opts.timeoutMs} ms`)
          : new UpstreamError(PROVIDER, 0, "network_error", `${PROVIDER} unreachable`, undefined, `${path}: ${(err as Error)?.message ?? err}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new UpstreamError(PROVIDER, res.status, "bad_response", `${PROVIDER} sent a body that is not JSON for ${path.split("?")[0]}`);
      }
      return read(body);
    } finally {
      clear();
    }
  }
}
