/**
 * `GET /dashboard/api/summary`: the operator dashboard's data, behind the operator key (as
 * `GET /metrics`). The page itself is static (Workers Static Assets, see web/dashboard); this is
 * the worker's only part in it: collect the merged metrics as a scrape does, store a reading in
 * the MetricsIndex's ring when one is due, and answer the summary with the history points the
 * page does not have yet.
 */
import { Hono } from "hono";
import { validationError } from "../api/errors";
import type { Env } from "../env";
import { DashboardSummaryQuery } from "../schema";
import { collectDeployment, METRICS_INDEX_NAME, READING_RETENTION_MS, requireOperator, storeReading } from "../telemetry";
import { readingsNeededFrom } from "./history";
import { buildSummary } from "./summary";

export const SUMMARY_PATH = "/dashboard/api/summary";

export const dashboardRoutes = new Hono<{ Bindings: Env }>();

dashboardRoutes.get(SUMMARY_PATH, requireOperator, async (c) => {
  const query = DashboardSummaryQuery.safeParse(c.req.query());
  if (!query.success) return validationError(query.error);
  const since = query.data.since;

  const index = c.env.METRICS_INDEX.getByName(METRICS_INDEX_NAME);
  const { snapshot, failed, names } = await collectDeployment(index, (name) => c.env.COVENANT.getByName(name));
  const now = Date.now();
  const from = since === undefined ? now - READING_RETENTION_MS : readingsNeededFrom(since);
  const stored = await storeReading(index, failed.length === 0 ? snapshot : undefined, now, from);
  const summary = buildSummary({
    snapshot,
    sources: names,
    failed,
    now,
    readings: stored.readings,
    ...(since === undefined ? {} : { since }),
    recorded: stored.recorded,
  });
  return c.json(summary, 200, { "cache-control": "no-store" });
});
