/**
 * What of a deleted covenant's metrics outlives it. Pure: no clock, no I/O.
 *
 * Series labelled with the covenant end with it (Prometheus marks them stale, which is not a
 * reset). Counters and histograms without that label are sums over every covenant object; the
 * deleted covenant's share of them must stay in the total, or the total would fall.
 */
import { emptySnapshot, type Snapshot } from "./registry";

export function outlivesCovenant(final: Snapshot): Snapshot {
  const out = emptySnapshot();
  for (const [name, m] of Object.entries(final.metrics)) {
    if (m.kind === "gauge" || m.labels.includes("covenant")) continue;
    out.metrics[name] = structuredClone(m);
  }
  return out;
}
