// Telemetry: the metric registry and its exposition (pure), the covenant object's MetricsBook,
// the deployment's MetricsIndex, the /metrics route, structured log lines, and distributed tracing.
export { defineMetric, emptySnapshot, inc, merge, observe, seriesKey, set } from "./registry";
export type { HistogramValue, Labels, MergeResult, MetricDef, MetricKind, MetricSnapshot, SeriesValue, Snapshot } from "./registry";
export { EXPOSITION_CONTENT_TYPE, renderExposition } from "./exposition";
export { M as METRICS, EDGE as EDGE_METRICS } from "./metrics";
export { MetricsBook, metricsRecording } from "./book";
export type { GaugeReading, LeaseReleased, MetricsBookOptions, StrikeFinished } from "./book";
export { MetricsIndex, METRICS_INDEX_NAME } from "./metrics-index";
export { collect } from "./collect";
export { metricsRoutes, operatorKey, requireOperator } from "./endpoint";
export { annotate, annotateRequest, emit, newSpanId, outcomeOf, requestLogger, setLogSink, traceFrom, traceOf, traceparent } from "./log";
export type { Outcome, RequestLine, TraceContext, UpstreamLine } from "./log";
export { activeTraceparent, configureTracing, flushSpans, tracingEnabled, type TracingEnv } from "./tracing";
export { tracedUpstream, tracedUpstreamStream, type UpstreamCall, type UpstreamCallInfo, type UpstreamResult } from "./upstream";
export { traceAttempt, traceStrike } from "./strike-spans";
