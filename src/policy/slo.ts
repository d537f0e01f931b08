import type { CovenantContract } from "../schema";

/** The bounds a strike is held to: end to end always, time to first token and per output token where set. */
export type SloBounds = Pick<CovenantContract["qos"], "latency_slo_ms" | "ttft_slo_ms" | "tpot_slo_ms">;

/** A strike's timing from its arrival, measured or predicted; `tpotMs` null when it produced at most one token. */
export interface StrikeLatency {
  e2eMs: number;
  ttftMs: number;
  tpotMs: number | null;
}

/** A strike meets its SLO when every bound it has holds (the definition DistServe and Splitwise use). */
export function meetsSlo(t: StrikeLatency, slo: SloBounds): boolean {
  if (t.e2eMs > slo.latency_slo_ms) return false;
  if (slo.ttft_slo_ms !== null && t.ttftMs > slo.ttft_slo_ms) return false;
  if (slo.tpot_slo_ms !== null && t.tpotMs !== null && t.tpotMs > slo.tpot_slo_ms) return false;
  return true;
}
