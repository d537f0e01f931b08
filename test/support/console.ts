/**
 * The gateway writes one JSON line per request and per upstream call. In a test run those lines
 * bury the results (a megabyte per run), so vitest drops them from its output unless
 * HOMESKILLET_TEST_LOGS=1. Tests that check log lines read them through the log sink, which this
 * does not touch; anything else a test prints still shows.
 */
const STRUCTURED_LINE = /^\{"kind":"(request|upstream|strike_content)"/;

export function onConsoleLog(log: string): false | void {
  if (process.env.HOMESKILLET_TEST_LOGS === "1") return;
  if (STRUCTURED_LINE.test(log)) return false;
}
