/**
 * The edge's half of aggregation: ask every registered covenant object for its snapshot, merge
 * them, and say how many answered. Holds no metric state of its own, so which isolate serves a
 * scrape makes no difference.
 */
import { EDGE } from "./metrics";
import { emptySnapshot, merge, set, type Snapshot } from "./registry";

export interface MetricsSource {
  metricsSnapshot(): Promise<Snapshot> | Snapshot;
}

/** Objects asked at once: enough to keep a scrape short, few enough not to flood the runtime. */
const FAN_OUT = 32;

export interface Collected {
  snapshot: Snapshot;
  /** Sources that did not answer, even when asked a second time. */
  failed: string[];
}

export async function collect(names: readonly string[], source: (name: string) => MetricsSource): Promise<Collected> {
  let total = emptySnapshot();
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
  for (let i = 0; i < names.length; i += FAN_OUT) {
    const slice = names.slice(i, i + FAN_OUT);
    const batch = await Promise.allSettled(slice.map(ask));
    for (const [j, r] of batch.entries()) {
      if (r.status === "rejected") {
        failed.push(slice[j]!);
        continue;
      }
      ok++;
      const merged = merge(total, r.value);
      total = merged.snapshot;
      conflicts += merged.conflicts.length;
    }
  }
  // A source that did not answer lowers the sums: these make a partial scrape visible.
  set(total, EDGE.sources, { result: "ok" }, ok);
  set(total, EDGE.sources, { result: "failed" }, failed.length);
  set(total, EDGE.conflicts, {}, conflicts);
  return { snapshot: total, failed };
}
