/**
 * `GET /metrics`: the deployment's metrics in Prometheus text format, for an operator (or a
 * Prometheus server holding the operator key), never for tenants.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bearerToken, sha256Hex } from "../auth";
import type { Env } from "../env";
import { collectDeployment } from "./collect";
import { EXPOSITION_CONTENT_TYPE, renderExposition } from "./exposition";
import { METRICS_INDEX_NAME } from "./metrics-index";
import { storeReading } from "./readings";

function unauthorized(message: string): Response {
  return Response.json(
    { error: { type: "unauthorized", message } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="homeskillet-operator"' } },
  );
}

/** The operator key: HOMESKILLET_OPERATOR_KEY, or the development key when that is unset. */
export function operatorKey(env: Env): string | undefined {
  return env.HOMESKILLET_OPERATOR_KEY?.trim() || env.HOMESKILLET_DEV_KEY?.trim() || undefined;
}

/** Compares digests, not keys, so the time taken says nothing about how much of a key matched. */
export const requireOperator: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const expected = operatorKey(c.env);
  if (!expected) return unauthorized("no operator key is configured: set HOMESKILLET_OPERATOR_KEY");
  const presented = bearerToken(c.req.header("authorization"));
  if (!presented) return unauthorized("missing operator key: send `Authorization: Bearer <operator key>`");
  const [a, b] = await Promise.all([sha256Hex(presented), sha256Hex(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  if (diff !== 0) return unauthorized("invalid operator key");
  await next();
};

export const metricsRoutes = new Hono<{ Bindings: Env }>();

metricsRoutes.get("/metrics", requireOperator, async (c) => {
  const index = c.env.METRICS_INDEX.getByName(METRICS_INDEX_NAME);
  const { snapshot, failed, names } = await collectDeployment(index, (name) => c.env.COVENANT.getByName(name));
  // Without a source its counters would drop out of the sums, and Prometheus would read the drop
  // as a counter reset and the return as a burst. A failed scrape leaves a gap instead; an
  // operator who wants what did answer asks with `?partial=1`.
  if (failed.length > 0 && c.req.query("partial") !== "1") {
    return Response.json(
      { error: { type: "metrics_incomplete", message: `${failed.length} of ${names.length} covenant objects did not answer; retry, or add ?partial=1`, failed: failed.slice(0, 20) } },
      { status: 503, headers: { "retry-after": "5", "cache-control": "no-store" } },
    );
  }
  // A complete scrape is also a reading for the dashboard's history (readings.ts), so history
  // accrues while Prometheus scrapes even with no dashboard open. In the background: the scrape
  // does not wait for it, and a failure only leaves a gap in the history.
  if (failed.length === 0) c.executionCtx.waitUntil(storeReading(index, snapshot, Date.now(), undefined).catch(() => {}));
  return new Response(renderExposition(snapshot), {
    headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
  });
});
