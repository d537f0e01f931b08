// Telemetry: the metric registry and its exposition (pure), the covenant object's MetricsBook,
// the deployment's MetricsIndex (and its ring of readings), the /metrics route, structured log lines,
// and distributed tracing.
export { defineMetric, emptySnapshot, inc, merge, observe, seriesKey, set } from "./registry";
export type { HistogramValue, Labels, MergeResult, MetricDef, MetricKind, MetricSnapshot, SeriesValue, Snapshot } from "./registry";
export { EXPOSITION_CONTENT_TYPE, renderExposition } from "./exposition";
export { M as METRICS, EDGE as EDGE_METRICS } from "./metrics";
export { MetricsBook, metricsRecording } from "./book";
export type { FusedFinished, GaugeReading, GpuReading, LeaseReleased, MetricsBookOptions, RequestFinished, StrikeFinished, UpstreamFailed } from "./book";
export { MetricsIndex, METRICS_INDEX_NAME } from "./metrics-index";
export type { MetricsSources, ReadingsAnswer, ReadingsRequest } from "./metrics-index";
export { collect, collectDeployment, deriveGauges, FAN_OUT } from "./collect";
export { currentName, migrateSnapshot } from "./migrate";
export { failureKind, withUpstreamSink, type FailureKind, type UpstreamFailure, type UpstreamSink } from "./upstream-failures";
export { outlivesCovenant } from "./retire";
export { addHistograms, bucketsOf, histogramsBy, rowsOf, sumBy } from "./snapshot-read";
export type { Row } from "./snapshot-read";
export { OTHER, parseReadings, READING_RETENTION_MS, READING_SPACING_MS, READING_VERSION, readingOf, SPLIT_KEYS, storeReading } from "./readings";
export type { HistogramReading, Reading } from "./readings";
export { isDevelopment, metricsRoutes, operatorKey, requireOperator } from "./endpoint";
export { annotate, annotateRequest, configureLogging, CONTENT_LOG_LIMIT, emit, logStrikeContent, newSpanId, outcomeOf, requestLogger, setLogSink, traceFrom, traceOf, traceparent } from "./log";
export type { Outcome, RequestLine, StrikeContentLine, TraceContext, UpstreamLine } from "./log";
export { logLevelFrom, writesLine, type LogLevel } from "./log-level";
export { activeTraceparent, configureTracing, flushSpans, tracingEnabled, type TracingEnv } from "./tracing";
export { tracedUpstream, tracedUpstreamStream, type UpstreamCall, type UpstreamCallInfo, type UpstreamResult } from "./upstream";
export { traceAttempt, traceStrike } from "./strike-spans";
