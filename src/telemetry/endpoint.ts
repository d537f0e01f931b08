/**
 * `GET /metrics`: the deployment's metrics in Prometheus text format, for an operator (or a
 * Prometheus server holding the operator key), never for tenants.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bearerToken, sha256Hex, tenantKeyTable } from "../auth";
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

/** `HOMESKILLET_ENV=development` (the local config's value) is the only place the dev key may be the operator's. */
export function isDevelopment(env: Pick<Env, "HOMESKILLET_ENV">): boolean {
  return env.HOMESKILLET_ENV?.trim().toLowerCase() === "development";
}

/** The operator key as requests are checked against it: its SHA-256, never the key itself. */
export type OperatorKey = { ok: true; hash: string } | { ok: false; message: string };

/**
 * The operator key: HOMESKILLET_OPERATOR_KEY; in local development only, the development key when
 * that is unset. Anywhere else a deployment without a distinct operator key has no operator
 * routes, and an operator key that is also a tenant's key is refused, since a tenant holding it
 * would read every tenant's metrics.
 */
export async function operatorKey(env: Env): Promise<OperatorKey> {
  const configured = env.HOMESKILLET_OPERATOR_KEY?.trim();
  if (!configured) {
    const dev = env.HOMESKILLET_DEV_KEY?.trim();
    if (dev && isDevelopment(env)) return { ok: true, hash: await sha256Hex(dev) };
    return { ok: false, message: "operator routes are off: set HOMESKILLET_OPERATOR_KEY to a key no tenant holds" };
  }
  const table = await tenantKeyTable(env).catch(() => new Map<string, string>());
  const hash = await sha256Hex(configured);
  if (table.has(hash)) {
    return { ok: false, message: "operator routes are off: HOMESKILLET_OPERATOR_KEY is also a tenant's key; give the operator a key of its own" };
  }
  return { ok: true, hash };
}

/** Compares digests, not keys, so the time taken says nothing about how much of a key matched. */
export const requireOperator: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const expected = await operatorKey(c.env);
  if (!expected.ok) {
    return Response.json({ error: { type: "operator_key_not_configured", message: expected.message } }, { status: 503, headers: { "cache-control": "no-store" } });
  }
  const presented = bearerToken(c.req.header("authorization"));
  if (!presented) return unauthorized("missing operator key: send `Authorization: Bearer <operator key>`");
  const a = await sha256Hex(presented);
  const b = expected.hash;
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
