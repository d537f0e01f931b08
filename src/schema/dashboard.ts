import { z } from "@hono/zod-openapi";

/** `GET /dashboard/api/summary?since=` — the page sends the time of the last point it holds. */
export const DashboardSummaryQuery = z
  .object({
    since: z.coerce
      .number({ error: "must be a time in Unix milliseconds" })
      .int("must be a whole number of Unix milliseconds")
      .nonnegative("must not be negative")
      .max(Number.MAX_SAFE_INTEGER, "is too large")
      .optional(),
  })
  .strict();
export type DashboardSummaryQuery = z.infer<typeof DashboardSummaryQuery>;
