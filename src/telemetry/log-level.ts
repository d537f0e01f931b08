/**
 * Which log lines are written: the operator's `HOMESKILLET_LOG_LEVEL`.
 *
 * - `info` (the default): every request line and every upstream call line.
 * - `warn`: only the lines of what went wrong: requests answered 4xx or 5xx, upstream calls that
 *   failed. A deployment that reads its traffic from metrics and traces, and wants the lines only
 *   for failures, writes one line per failure instead of two per request.
 * - `off`: none.
 *
 * A covenant's opted-in `strike_content` lines are written at `info` and `warn` (the covenant asked
 * for them to debug it) and not at `off`. Any other value reads as `info`: a mistyped setting never
 * silences the logs.
 */
export type LogLevel = "info" | "warn" | "off";

export function logLevelFrom(raw: string | undefined): LogLevel {
  const v = raw?.trim().toLowerCase();
  return v === "warn" || v === "off" ? v : "info";
}

/** Whether a line of this kind and outcome is written at `level`. */
export function writesLine(level: LogLevel, kind: "request" | "upstream" | "strike_content", outcome: "ok" | "client_error" | "error"): boolean {
  if (level === "info") return true;
  if (level === "off") return false;
  return kind === "strike_content" || outcome !== "ok";
}
