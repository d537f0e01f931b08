// Calls the emulator the way a client would: through its own fetch entrypoint.
import { createExecutionContext } from "cloudflare:test";
import { env as rawEnv, exports } from "cloudflare:workers";
import type { Env } from "../src/env";
import entry from "../src/index";

export const env = rawEnv as unknown as Env;
const worker = (exports as unknown as { default: Fetcher }).default;

export const ORIGIN = "http://localhost";

export function call(path: string, init?: RequestInit): Promise<Response> {
  return worker.fetch(`${ORIGIN}${path}`, init);
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export interface Stats {
  requests_total: number;
  prompt_tokens_total: number;
  completion_tokens_total: number;
  loaded_model: string;
  busy_until: number;
  latency_scale: number;
  faults_injected_total: Record<"errors" | "latency" | "timeouts" | "down" | "stream_cut" | "malformed_output", number>;
  in_flight: number;
  max_in_flight: number;
}

export async function stats(): Promise<Stats> {
  return (await call("/admin/stats")).json<Stats>();
}

/** A freshly started node, optionally at another time scale than the configured 0.01. */
export async function resetDevice(latencyScale?: number): Promise<void> {
  const reset = await postJson("/admin/reset", {});
  if (!reset.ok) throw new Error(`reset failed: ${reset.status}`);
  if (latencyScale !== undefined) {
    const configured = await postJson("/admin/config", { latency_scale: latencyScale });
    if (!configured.ok) throw new Error(`config failed: ${configured.status}`);
  }
}

export const hello = [{ role: "user", content: "Say hello to the tunnel." }];

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .map((event) => event.trim())
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

export interface SlotHeaders {
  sequence: number;
  requestedAt: number;
  start: number;
  end: number;
  queuedMs: number;
  loadMs: number;
}

export function slotOf(response: Response): SlotHeaders {
  const read = (name: string) => Number(response.headers.get(name));
  return {
    sequence: read("x-device-sequence"),
    requestedAt: read("x-device-requested-at"),
    start: read("x-device-slot-start"),
    end: read("x-device-slot-end"),
    queuedMs: read("x-device-queued-ms"),
    loadMs: read("x-device-load-ms"),
  };
}

/** Replaces the fault configuration; throws unless it was accepted. */
export async function setFaults(config: unknown): Promise<unknown> {
  const response = await call("/admin/faults", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(config),
  });
  if (!response.ok) throw new Error(`faults: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * Posts straight to the entry module with a client that gives up after `ms` (aborting the
 * request, which the runtime's own fetch binding would not pass on). "no answer" if none came.
 */
export async function postWithin(ms: number, path: string, body: unknown): Promise<Response | "no answer"> {
  const controller = new AbortController();
  const request = new Request(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: controller.signal,
  }) as Request<unknown, IncomingRequestCfProperties>;
  const reply = Promise.resolve(entry.fetch(request, env, createExecutionContext()));
  const outcome = await Promise.race([reply, new Promise<"no answer">((resolve) => setTimeout(() => resolve("no answer"), ms))]);
  controller.abort();
  // Let the abandoned request see the abort and finish, so nothing is left pending.
  await reply.catch(() => undefined);
  return outcome;
}
