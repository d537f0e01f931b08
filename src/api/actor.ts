import type { Context } from "hono";
import type { Actor } from "../tenancy";
import { traceOf } from "../telemetry";
import type { AppEnv } from "./app-types";

/** Who is making a change, for the audit log: the key id (never the secret) and the request's trace id. */
export function actorOf(c: Context<AppEnv>, operator = false): Actor {
  return { actor: operator ? "operator" : c.get("principal").keyId, requestId: traceOf(c.req.raw)?.traceId ?? null };
}
