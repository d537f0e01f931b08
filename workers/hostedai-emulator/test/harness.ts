// Drives the emulator through its HTTP surface, the way the gateway's connector does.
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import type { HostedAiCluster } from "../src/cluster";
import type { Env } from "../src/config";
import entry from "../src/index";

export const testEnv = env as unknown as Env;

/** The Worker as the runtime serves it, through its own fetch binding. */
export const runtimeWorker = (exports as unknown as { default: Fetcher }).default;

/**
 * The same entry module, called in-process. Each request through the pool's fetch binding costs
 * more than the one before (cloudflare/workers-sdk#15446), which makes request-heavy property
 * tests crawl; calling the entry's fetch directly runs the identical code path without that.
 */
function directFetch(input: string, init: RequestInit, vars: Partial<Env> = {}): Promise<Response> {
  const request = new Request(input, init) as Request<unknown, IncomingRequestCfProperties>;
  return Promise.resolve(entry.fetch(request, { ...testEnv, ...vars }, createExecutionContext()));
}

export const API_KEY = "dev-hostedai-key";
export const BASE = "http://emulator.test";

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent verbatim instead of JSON-encoding `body`. */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Go through the runtime's fetch binding instead of calling the entry module directly. */
  viaRuntime?: boolean;
  /** Vars to override for this request (direct calls only): the Worker reads them per request. */
  vars?: Partial<Env>;
  /** Aborting it is how a direct call's client "goes away". */
  signal?: AbortSignal;
}

export async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  let body: BodyInit | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers.set("content-type", "application/json");
  }
  const url = `${BASE}${path}`;
  const response = options.viaRuntime
    ? await runtimeWorker.fetch(url, { method, headers, body })
    : await directFetch(url, { method, headers, body, signal: options.signal ?? null }, options.vars);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Left as text so a test can report what came back.
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export async function issueToken(apiKey = API_KEY): Promise<string> {
  const reply = await call("POST", "/api/v1/auth/token", { body: { api_key: apiKey } });
  if (reply.status !== 200) throw new Error(`token: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.access_token as string;
}

/** A token for another caller, signed with the emulator's secret as issuance would sign it. */
export async function tokenFor(subject: string, expiresInSeconds = 600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuer("hostedai-emulator")
    .setIssuedAt(now - 10)
    .setExpirationTime(now + expiresInSeconds)
    .sign(new TextEncoder().encode(testEnv.JWT_SECRET));
}

export async function resetCluster(): Promise<void> {
  const reply = await call("POST", "/admin/reset");
  if (reply.status !== 200) throw new Error(`reset: ${reply.status}`);
}

export async function setConfig(update: { latency_scale?: number; time_scale?: number }): Promise<void> {
  const reply = await call("POST", "/admin/config", { body: update });
  if (reply.status !== 200) throw new Error(`config: ${reply.status} ${JSON.stringify(reply.body)}`);
}

export async function adminView(): Promise<Reply> {
  return call("GET", "/admin/allocations");
}

export interface SliceRequest {
  pool_id?: string;
  min_vram_mb?: number;
  min_tflops?: number;
  duration_seconds?: number;
  preemptible?: boolean;
  metadata?: Record<string, string>;
}

export function allocate(token: string, slice: SliceRequest = {}): Promise<Reply> {
  return call("POST", "/api/v1/allocations", {
    token,
    body: {
      pool_id: slice.pool_id ?? "standard-us-east",
      requirements: { min_tflops: slice.min_tflops ?? 10, min_vram_mb: slice.min_vram_mb ?? 6144 },
      duration_seconds: slice.duration_seconds ?? 300,
      preemptible: slice.preemptible ?? false,
      ...(slice.metadata ? { metadata: slice.metadata } : {}),
    },
  });
}

export async function allocateOk(token: string, slice: SliceRequest = {}): Promise<any> {
  const reply = await allocate(token, slice);
  if (reply.status !== 201) throw new Error(`allocate: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export function infer(
  token: string,
  allocationId: string,
  request: { model?: string; prompt?: string; max_tokens?: number; temperature?: number } = {},
): Promise<Reply> {
  return call("POST", `/api/v1/inference/${allocationId}`, {
    token,
    body: {
      model: request.model ?? "mistral-7b",
      prompt: request.prompt ?? "Explain why the sky is blue.",
      max_tokens: request.max_tokens ?? 128,
      temperature: request.temperature ?? 0.7,
    },
  });
}

export function clusterStub(): DurableObjectStub<HostedAiCluster> {
  return testEnv.CLUSTER.get(testEnv.CLUSTER.idFromName("cluster"));
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Replaces the fault configuration; throws unless it was accepted. */
export async function setFaults(config: unknown): Promise<any> {
  const reply = await call("PUT", "/admin/faults", { body: config });
  if (reply.status !== 200) throw new Error(`faults: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/**
 * Calls, and gives up after `ms` the way a client with a timeout does (aborting the request).
 * "no answer" when nothing came back in time.
 */
export async function callWithin(ms: number, method: string, path: string, options: CallOptions = {}): Promise<Reply | "no answer"> {
  const controller = new AbortController();
  const reply = call(method, path, { ...options, signal: controller.signal });
  const outcome = await Promise.race([reply, pause(ms).then(() => "no answer" as const)]);
  controller.abort();
  // Let the abandoned request see the abort and finish, so nothing is left pending.
  await reply.catch(() => undefined);
  return outcome;
}

export interface SseEvent {
  event: string;
  data: any;
  /** ms after the request was sent that the event was read. */
  at: number;
}

/** Streams an inference and reads its server-sent events as they arrive. */
export async function streamInference(
  token: string,
  allocationId: string,
  request: { model?: string; prompt?: string; max_tokens?: number; temperature?: number } = {},
  onEvent?: (event: SseEvent) => void | Promise<void>,
): Promise<{ status: number; headers: Headers; events: SseEvent[]; raw: string }> {
  const started = Date.now();
  const response = await directFetch(`${BASE}/api/v1/inference/${allocationId}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: request.model ?? "mistral-7b",
      prompt: request.prompt ?? "Explain why the sky is blue.",
      max_tokens: request.max_tokens ?? 32,
      temperature: request.temperature ?? 0.7,
      stream: true,
    }),
  });
  const events: SseEvent[] = [];
  let raw = "";
  if (!response.body) return { status: response.status, headers: response.headers, events, raw };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      raw += text;
      buffered += text;
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = /^data: (.*)$/m.exec(block)?.[1];
        const parsed: SseEvent = { event, data: data === undefined ? undefined : JSON.parse(data), at: Date.now() - started };
        events.push(parsed);
        await onEvent?.(parsed);
      }
    }
  } catch (error) {
    // A reader that stops reading hangs up, as a client closing the connection does.
    await reader.cancel();
    throw error;
  }
  return { status: response.status, headers: response.headers, events, raw };
}
