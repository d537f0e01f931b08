// The trace-replay simulator: pure, no I/O, runs the policy core against the emulator's model.
export { parseTrace, parseTimestamp, type TraceRequest } from "./trace";
export { simulate, type SimOptions, type SimResult } from "./simulate";
export { percentile, percentiles, type Percentiles, type RunMetrics } from "./metrics";
export { summaryLine } from "./report";
