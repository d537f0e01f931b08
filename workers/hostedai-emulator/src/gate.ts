// The Worker's side of fault injection. Every /api/v1 route passes through `gated` before doing
// anything: it authenticates (statelessly), asks the cluster object which fault this request
// meets, and applies it — a dropped connection, a hang, added latency or an error — so that an
// injected failure never reaches the code that would change state.
import type { MiddlewareHandler } from "hono";
import { authenticate } from "./auth";
import { jwtSecret } from "./config";
import { type ApiError, errorResponse } from "./errors";
import type { Endpoint } from "./faults";
import { type AppEnv, cluster, readJsonBody, sleep, sleepUnlessAborted } from "./http";

/** An injected hang outlasts any sensible client timeout, then gives up. */
export const HANG_MS = 5 * 60_000;

/**
 * Thrown to drop the connection: it escapes the app's error handler, so workerd answers as for a
 * crashed Worker — the caller's fetch rejects over a service binding, and an HTTP client gets a
 * 500 that is not the API's JSON error.
 */
export class ConnectionReset extends Error {
  constructor() {
    super("hostedai-emulator: connection reset (injected network partition)");
    this.name = "ConnectionReset";
  }
}

export interface GateOptions {
  /** The route needs a JWT (every route but the token route). */
  auth: boolean;
  /** The pool is named in the body (allocate): the body is read here and kept for the handler. */
  poolFromBody?: boolean;
  /** The route is about the allocation in the `:id` parameter, so rules match its pool. */
  allocationParam?: boolean;
}

const timedOut: ApiError = {
  status: 504,
  type: "injected_fault",
  message: "Injected timeout: the request was held without being served.",
};

/** `endpoint` null: a route no rule can name; only a partition reaches it. */
export function gated(endpoint: Endpoint | null, options: GateOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let tokenGeneration: number | undefined;
    let authError: ApiError | undefined;
    if (options.auth) {
      const caller = await authenticate(c.req.header("authorization"), jwtSecret(c.env));
      if (caller.ok) {
        c.set("caller", caller.value.id);
        tokenGeneration = caller.value.generation;
      } else {
        authError = caller.error;
      }
    }
    let poolId: string | undefined;
    if (options.poolFromBody && !authError) {
      const body = await readJsonBody(c.req.raw);
      c.set("body", body);
      poolId = body.ok ? poolIdIn(body.value) : undefined;
    }
    const decision = await cluster(c.env).gate({
      // A request that failed authentication is refused anyway: only a partition can meet it.
      endpoint: authError ? null : endpoint,
      poolId,
      allocationId: options.allocationParam ? c.req.param("id") : undefined,
      tokenGeneration,
    });
    if (decision.kind === "reset") throw new ConnectionReset();
    await sleep(decision.addedLatencyMs);
    if (decision.kind === "hang") {
      await sleepUnlessAborted(HANG_MS, c.req.raw.signal);
      return errorResponse(timedOut);
    }
    if (decision.kind === "error") return errorResponse(decision.error);
    if (authError) return errorResponse(authError);
    c.set("tokenGeneration", decision.tokenGeneration);
    await next();
  };
}

function poolIdIn(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const poolId = (body as { pool_id?: unknown }).pool_id;
  return typeof poolId === "string" ? poolId : undefined;
}
