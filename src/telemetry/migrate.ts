/**
 * Metrics renamed since they were first stored. A covenant object's SQLite, the MetricsIndex's
 * retired totals and the snapshot of an object still on the previous version (mid-deploy) may
 * carry an old name; each is read under the current one, so no count is lost or misread and no
 * merge conflicts. Pure: no clock, no I/O.
 */
import type { MetricSnapshot, Snapshot } from "./registry";

interface Rename {
  from: string;
  /** The old metric's label names: how its series are told apart from the new one of that name. */
  labels: readonly string[];
  to: string;
}

/**
 * `homeskillet_upstream_failures_total{target,type}` counted failed attempts of strikes; those are
 * `homeskillet_attempt_failures_total` now, and the old name counts failed upstream calls by
 * operation, kind and pool.
 */
const RENAMED: readonly Rename[] = [{ from: "homeskillet_upstream_failures_total", labels: ["target", "type"], to: "homeskillet_attempt_failures_total" }];

function arity(key: string): number {
  try {
    const values = JSON.parse(key) as unknown;
    return Array.isArray(values) ? values.length : -1;
  } catch {
    return -1;
  }
}

/** The current name of a stored series (its metric's name and series key as stored). */
export function currentName(metric: string, key: string): string {
  for (const r of RENAMED) if (r.from === metric && arity(key) === r.labels.length) return r.to;
  return metric;
}

const sameLabels = (m: MetricSnapshot, labels: readonly string[]) => m.labels.length === labels.length && m.labels.every((l, i) => l === labels[i]);

/** The snapshot with every renamed metric under its current name (the input when nothing was renamed). */
export function migrateSnapshot(snap: Snapshot): Snapshot {
  let out = snap;
  for (const r of RENAMED) {
    const old = out.metrics[r.from];
    if (!old || !sameLabels(old, r.labels)) continue;
    const metrics = { ...out.metrics };
    delete metrics[r.from];
    const now = metrics[r.to];
    if (!now) metrics[r.to] = old;
    else {
      // Both present (counted before and after a rename): counters add.
      const series = { ...now.series };
      for (const [key, v] of Object.entries(old.series)) series[key] = ((series[key] as number | undefined) ?? 0) + (v as number);
      metrics[r.to] = { ...now, series };
    }
    out = { metrics };
  }
  return out;
}
