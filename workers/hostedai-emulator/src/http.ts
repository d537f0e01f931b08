// Request plumbing shared by the routes: bounded body reading, JSON answers, simulated delays.
import type { Context } from "hono";
import type { HostedAiCluster } from "./cluster";
import type { Env } from "./config";
import { type ApiError, type Outcome, errorResponse, fail, invalidRequest, ok } from "./errors";

export const MAX_BODY_BYTES = 1024 * 1024;

export type AppEnv = {
  Bindings: Env;
  Variables: {
    /** The verified caller's key id. */
    caller: string;
    /** The token generation in force, for a token issued by this request. */
    tokenGeneration: number;
    /** The body, when the fault gate had to read it to learn the pool. */
    body: Outcome<unknown>;
  };
};
export type AppContext = Context<AppEnv>;

export function cluster(env: Env): DurableObjectStub<HostedAiCluster> {
  return env.CLUSTER.get(env.CLUSTER.idFromName("cluster"));
}

/**
 * Reads and parses a JSON body, stopping as soon as it passes the size limit so an oversized
 * upload is refused without being buffered whole.
 */
export async function readJsonBody(request: Request): Promise<Outcome<unknown>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return fail(tooLarge());
  if (!request.body) return fail(invalidRequest("body", "A JSON body is required."));
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return fail(tooLarge());
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return fail(invalidRequest("body", "The body is not valid UTF-8."));
  }
  if (text.trim() === "") return fail(invalidRequest("body", "A JSON body is required."));
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return fail(invalidRequest("body", "The body is not valid JSON."));
  }
}

function tooLarge(): ApiError {
  return { status: 413, type: "payload_too_large", message: `Bodies are limited to ${MAX_BODY_BYTES} bytes.`, param: "body" };
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** Answers with the value as JSON, or with the error. */
export function respond<T>(outcome: Outcome<T>, status = 200): Response {
  return outcome.ok ? json(outcome.value, status) : errorResponse(outcome.error);
}

export { sleep, sleepUntil, sleepUnlessAborted } from "../../shared/time";
