/**
 * The edge's half of aggregation: ask every registered covenant object for its snapshot, merge
 * them, and say how many answered. Holds no metric state of its own, so which isolate serves a
 * scrape makes no difference.
 *
 * Cost: two RPCs to the MetricsIndex plus one per live covenant object, at most FAN_OUT at a
 * time. Deleted covenants leave the index (src/telemetry/metrics-index.ts), so a scrape's cost
 * follows the covenants that exist, not every covenant that ever did.
 */
import { mapLimit } from "../concurrency";
import { EDGE, M } from "./metrics";
import type { MetricsSources } from "./metrics-index";
import { migrateSnapshot } from "./migrate";
import { emptySnapshot, merge, set, type Snapshot } from "./registry";
import { rowsOf, sumBy } from "./snapshot-read";

export interface MetricsSource {
  metricsSnapshot(): Promise<Snapshot> | Snapshot;
}

/** Objects asked at once: enough to keep a scrape short, few enough not to flood the runtime. */
export const FAN_OUT = 32;

export interface SourceIndex {
  sources(): Promise<MetricsSources> | MetricsSources;
  epoch(): Promise<number> | number;
}

export interface CollectedDeployment extends Collected {
  /** The live covenant objects asked. */
  names: string[];
}

/**
 * The deployment's merged metrics: live objects plus what deleted ones left behind. A covenant
 * deleted while the scrape ran could be counted twice or not at all, so the scrape checks the
 * index's retirement epoch at the end and asks again once if it moved; if it moved again, the
 * answer says so by counting the scrape as failed (a gap, not a false reset).
 */
export async function collectDeployment(index: SourceIndex, source: (name: string) => MetricsSource): Promise<CollectedDeployment> {
  for (let attempt = 0; ; attempt++) {
    const { names, retired, epoch } = await index.sources();
    const got = await collect(names, source, retired);
    if ((await index.epoch()) === epoch) return { ...got, names };
    if (attempt >= 1) return { ...got, names, failed: [...got.failed, "(covenants deleted during the scrape)"] };
  }
}

export interface Collected {
  snapshot: Snapshot;
  /** Sources that did not answer, even when asked a second time. */
  failed: string[];
}

export async function collect(names: readonly string[], source: (name: string) => MetricsSource, base: Snapshot = emptySnapshot()): Promise<Collected> {
  let total = structuredClone(base);
  let ok = 0;
  const failed: string[] = [];
  let conflicts = 0;
  // One retry: an object being moved or restarted usually answers the second time.
  const ask = async (n: string) => {
    try {
      return await source(n).metricsSnapshot();
    } catch {
      return await source(n).metricsSnapshot();
    }
  };
  const answers = await mapLimit(names, FAN_OUT, (n) => ask(n).then((s) => ({ ok: true as const, s }), () => ({ ok: false as const })));
  for (const [i, r] of answers.entries()) {
    if (!r.ok) {
      failed.push(names[i]!);
      continue;
    }
    ok++;
    // An object still on the previous version (mid-deploy) may report a metric by its old name.
    const merged = merge(total, migrateSnapshot(r.s));
    total = merged.snapshot;
    conflicts += merged.conflicts.length;
  }
  // A source that did not answer lowers the sums: these make a partial scrape visible.
  set(total, EDGE.sources, { result: "ok" }, ok);
  set(total, EDGE.sources, { result: "failed" }, failed.length);
  set(total, EDGE.conflicts, {}, conflicts);
  deriveGauges(total);
  return { snapshot: total, failed };
}

/**
 * Gauges only the edge can compute, from the merged ones: the upstream's mean GPU utilisation per
 * pool, over every object's sampled leases (each object reports the sum and the count, which add
 * up across objects where means would not). The sum itself is not exposed.
 */
export function deriveGauges(snap: Snapshot): void {
  const sampled = sumBy(rowsOf<number>(snap, M.gpuLeasesSampled), (l) => l.pool ?? "");
  for (const r of rowsOf<number>(snap, M.gpuUtilizationSum)) {
    const n = sampled.get(r.labels.pool ?? "") ?? 0;
    if (n > 0) set(snap, EDGE.gpuUtilization, { pool: r.labels.pool }, r.value / n);
  }
  delete snap.metrics[M.gpuUtilizationSum.name];
}
