/**
 * Reading a (merged) metric snapshot by label: rows with their labels by name, sums and
 * histograms grouped by a key. Pure: no clock, no I/O.
 */
import type { HistogramValue, MetricDef, Snapshot } from "./registry";

export interface Row<V> {
  labels: Record<string, string>;
  value: V;
}

/** Every series of a metric with its labels by name; none when the snapshot lacks the metric. */
export function rowsOf<V extends number | HistogramValue>(snap: Snapshot, def: MetricDef): Row<V>[] {
  const m = snap.metrics[def.name];
  if (!m) return [];
  return Object.entries(m.series).map(([key, value]) => {
    const values = JSON.parse(key) as string[];
    return { labels: Object.fromEntries(m.labels.map((l, i) => [l, values[i] ?? ""])), value: value as V };
  });
}

/** Adds numbers up under a key taken from each row's labels. */
export function sumBy(rows: Row<number>[], keyOf: (labels: Record<string, string>) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(keyOf(r.labels), (out.get(keyOf(r.labels)) ?? 0) + r.value);
  return out;
}

/** The buckets a histogram metric was recorded with (from the snapshot, else the definition). */
export function bucketsOf(snap: Snapshot, def: MetricDef): readonly number[] {
  return snap.metrics[def.name]?.buckets ?? def.buckets ?? [];
}

/** Adds histograms bucket by bucket; null when there are none. */
export function addHistograms(values: readonly HistogramValue[]): HistogramValue | null {
  if (values.length === 0) return null;
  const out: HistogramValue = { counts: [...values[0]!.counts], sum: values[0]!.sum, count: values[0]!.count };
  for (const h of values.slice(1)) {
    h.counts.forEach((c, i) => (out.counts[i] = (out.counts[i] ?? 0) + c));
    out.sum += h.sum;
    out.count += h.count;
  }
  return out;
}

/** Histograms grouped by a key taken from each row's labels, added up within each group. */
export function histogramsBy(rows: Row<HistogramValue>[], keyOf: (labels: Record<string, string>) => string): Map<string, HistogramValue> {
  const groups = new Map<string, HistogramValue[]>();
  for (const r of rows) groups.set(keyOf(r.labels), [...(groups.get(keyOf(r.labels)) ?? []), r.value]);
  return new Map([...groups].map(([k, hs]) => [k, addHistograms(hs)!]));
}
