/**
 * A small metric registry: counters, gauges and fixed-bucket histograms with label sets, held as a
 * plain-JSON snapshot so it can be stored in SQLite, sent over Durable Object RPC (structured
 * clone) and merged with other snapshots. Pure: no clock, no I/O.
 */

export type MetricKind = "counter" | "gauge" | "histogram";

/**
 * What a metric is. Histogram `buckets` are upper bounds, strictly increasing, without +Inf.
 * A gauge's `merge` says how two sources' values for the same labels combine: `sum` for amounts
 * that add up across objects (live leases), `max` for states (a breaker's phase).
 */
export interface MetricDef {
  name: string;
  help: string;
  kind: MetricKind;
  labels: readonly string[];
  buckets?: readonly number[];
  merge?: "sum" | "max";
}

export interface HistogramValue {
  /** Observations per bucket (not cumulative); the last entry is the +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
}

export type SeriesValue = number | HistogramValue;

export interface MetricSnapshot {
  help: string;
  kind: MetricKind;
  labels: string[];
  buckets?: number[];
  merge?: "sum" | "max";
  /** Key: JSON array of label values in `labels` order (see seriesKey). */
  series: Record<string, SeriesValue>;
}

export interface Snapshot {
  metrics: Record<string, MetricSnapshot>;
}

export type Labels = Readonly<Record<string, string | number | null | undefined>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Checks a definition once, where it is declared, so a typo fails at start-up and not in a scrape. */
export function defineMetric(def: MetricDef): MetricDef {
  if (!METRIC_NAME.test(def.name)) throw new Error(`bad metric name ${def.name}`);
  for (const l of def.labels) {
    if (!LABEL_NAME.test(l) || l.startsWith("__") || l === "le") throw new Error(`bad label name ${l} on ${def.name}`);
  }
  if (def.kind === "histogram") {
    const b = def.buckets ?? [];
    if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]!))) {
      throw new Error(`histogram ${def.name} needs finite, strictly increasing buckets`);
    }
  }
  return def;
}

export function emptySnapshot(): Snapshot {
  return { metrics: {} };
}

/** The series key of a label set: values in the definition's label order; missing means "". */
export function seriesKey(def: Pick<MetricDef, "labels">, labels: Labels): string {
  return JSON.stringify(def.labels.map((l) => (labels[l] == null ? "" : String(labels[l]))));
}

/** The snapshot's entry for a metric, created empty from its definition when absent. */
export function metricOf(snap: Snapshot, def: MetricDef): MetricSnapshot {
  let m = snap.metrics[def.name];
  if (!m) {
    m = {
      help: def.help,
      kind: def.kind,
      labels: [...def.labels],
      ...(def.buckets ? { buckets: [...def.buckets] } : {}),
      ...(def.merge ? { merge: def.merge } : {}),
      series: {},
    };
    snap.metrics[def.name] = m;
  }
  return m;
}

/** Adds to a counter (amounts below zero or not finite are refused: counters only go up). */
export function inc(snap: Snapshot, def: MetricDef, labels: Labels, by = 1): string {
  if (def.kind !== "counter") throw new Error(`${def.name} is not a counter`);
  if (!(by >= 0) || !Number.isFinite(by)) throw new Error(`${def.name}: counter increment must be finite and >= 0, got ${by}`);
  const m = metricOf(snap, def);
  const key = seriesKey(def, labels);
  m.series[key] = ((m.series[key] as number | undefined) ?? 0) + by;
  return key;
}

export function set(snap: Snapshot, def: MetricDef, labels: Labels, value: number): string {
  if (def.kind !== "gauge") throw new Error(`${def.name} is not a gauge`);
  const m = metricOf(snap, def);
  const key = seriesKey(def, labels);
  m.series[key] = value;
  return key;
}

/** Records one observation into the first bucket whose upper bound holds it (`le` semantics). */
export function observe(snap: Snapshot, def: MetricDef, labels: Labels, value: number): string {
  if (def.kind !== "histogram") throw new Error(`${def.name} is not a histogram`);
  if (!Number.isFinite(value)) throw new Error(`${def.name}: observation must be finite, got ${value}`);
  const m = metricOf(snap, def);
  const buckets = m.buckets!;
  const key = seriesKey(def, labels);
  const h = (m.series[key] as HistogramValue | undefined) ?? { counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 };
  let i = buckets.findIndex((b) => value <= b);
  if (i < 0) i = buckets.length;
  h.counts[i]! += 1;
  h.sum += value;
  h.count += 1;
  m.series[key] = h;
  return key;
}

function sameShape(a: MetricSnapshot, b: MetricSnapshot): boolean {
  return (
    a.kind === b.kind &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.buckets ?? null) === JSON.stringify(b.buckets ?? null)
  );
}

function combine(m: MetricSnapshot, x: SeriesValue, y: SeriesValue): SeriesValue {
  if (typeof x === "number" && typeof y === "number") return m.kind === "gauge" && m.merge === "max" ? Math.max(x, y) : x + y;
  const hx = x as HistogramValue;
  const hy = y as HistogramValue;
  return { counts: hx.counts.map((c, i) => c + (hy.counts[i] ?? 0)), sum: hx.sum + hy.sum, count: hx.count + hy.count };
}

export interface MergeResult {
  snapshot: Snapshot;
  /** Metrics whose shape (kind, labels, buckets) differed between the two: `b`'s were left out. */
  conflicts: string[];
}

/**
 * Combines two sources' snapshots into a new one (inputs untouched). Counters and histogram
 * buckets add: each source counted disjoint events, so the sum is the deployment's total, and
 * bucket-wise sums keep quantiles computable. Gauges combine by their `merge` rule.
 */
export function merge(a: Snapshot, b: Snapshot): MergeResult {
  const out: Snapshot = structuredClone(a);
  const conflicts: string[] = [];
  for (const [name, mb] of Object.entries(b.metrics)) {
    const ma = out.metrics[name];
    if (!ma) {
      out.metrics[name] = structuredClone(mb);
      continue;
    }
    if (!sameShape(ma, mb)) {
      conflicts.push(name);
      continue;
    }
    for (const [key, v] of Object.entries(mb.series)) {
      const prev = ma.series[key];
      ma.series[key] = prev === undefined ? structuredClone(v) : combine(ma, prev, v);
    }
  }
  return { snapshot: out, conflicts };
}
