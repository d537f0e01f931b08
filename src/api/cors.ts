import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { Env } from "../env";

/**
 * CORS, off unless the deployment names the origins browsers may call it from
 * (`HOMESKILLET_CORS_ORIGINS`, comma-separated, or `*`). Credentials are bearer keys in a header,
 * never cookies, so no `Access-Control-Allow-Credentials`. Clients can read the headers they need
 * to back off and to find their trace.
 */
export const EXPOSED_HEADERS = [
  "retry-after",
  "x-homeskillet-trace-id",
  "idempotent-replayed",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
];

let built: { source: string; handler: MiddlewareHandler | undefined } | undefined;

/** `origin` without trailing slashes, by a scan (test/audit: /\/+$/ is quadratic in a run of them). */
function withoutTrailingSlashes(origin: string): string {
  let end = origin.length;
  while (end > 0 && origin.charCodeAt(end - 1) === 0x2f) end--;
  return origin.slice(0, end);
}

function handlerFor(source: string | undefined): MiddlewareHandler | undefined {
  const raw = source?.trim() ?? "";
  if (built?.source === raw) return built.handler;
  const origins = raw.split(",").map((o) => withoutTrailingSlashes(o.trim())).filter((o) => o.length > 0);
  const handler =
    origins.length === 0
      ? undefined
      : cors({
          origin: origins.includes("*") ? "*" : (origin) => (origins.includes(origin) ? origin : null),
          allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
          allowHeaders: ["authorization", "content-type", "idempotency-key", "traceparent", "tracestate"],
          exposeHeaders: EXPOSED_HEADERS,
          maxAge: 600,
        });
  built = { source: raw, handler };
  return handler;
}

export const corsFromEnv: MiddlewareHandler<{ Bindings: Env }> = (c, next) => {
  const handler = handlerFor(c.env.HOMESKILLET_CORS_ORIGINS);
  return handler ? handler(c, next) : next();
};
