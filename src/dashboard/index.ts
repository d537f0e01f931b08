// The operator dashboard's worker side: the data route and the pure functions behind it. The
// page itself (web/dashboard) is built into static assets by scripts/build.mjs.
export { dashboardRoutes, SUMMARY_PATH } from "./routes";
export { buildSummary, BREAKER_ROWS, DEGRADED_ERROR_RATE } from "./summary";
export type { SummaryInput } from "./summary";
export { LATENCY_WINDOW_MS, readingsNeededFrom, trendOf, trendPoint, UTILISATION_WINDOW_MS } from "./history";
export { bucketQuantile, quantilesOf, subtractCounts } from "./quantiles";
export type * from "./types";
