// The default covenant with a replay's command-line changes, validated as the covenant API
// validates them. Pure, so tests and the sweep build covenants the same way.
import { applyCovenantChange, defaultContract, modelCatalogue } from "../../src/policy";
import { CovenantPatch, type CovenantContract } from "../../src/schema";

export interface CovenantOverrides {
  latency_slo_ms?: number | undefined;
  ttft_slo_ms?: number | undefined;
  tpot_slo_ms?: number | undefined;
  max_concurrency?: number | undefined;
  idle_timeout_s?: number | undefined;
  max_warm_leases?: number | undefined;
  max_leases?: number | undefined;
  duration_s?: number | undefined;
  share_delay_ms?: number | undefined;
  warm_ahead?: "off" | "burst" | undefined;
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The covenant fields the overrides set, as a create or patch body carries them. */
export function covenantBody(o: CovenantOverrides): { qos?: Record<string, unknown>; lease?: Record<string, unknown> } {
  const qos = defined({ latency_slo_ms: o.latency_slo_ms, ttft_slo_ms: o.ttft_slo_ms, tpot_slo_ms: o.tpot_slo_ms });
  const lease = defined({
    max_concurrency: o.max_concurrency,
    idle_timeout_s: o.idle_timeout_s,
    max_warm_leases: o.max_warm_leases,
    max_leases: o.max_leases,
    duration_s: o.duration_s,
    share_delay_ms: o.share_delay_ms,
    warm_ahead: o.warm_ahead,
  });
  return {
    ...(Object.keys(qos).length > 0 && { qos }),
    ...(Object.keys(lease).length > 0 && { lease }),
  };
}

/** The default covenant with the given changes, validated as the covenant API validates them. */
export function covenantFor(o: CovenantOverrides, catalogue = modelCatalogue()): CovenantContract {
  const parsed = CovenantPatch.safeParse(covenantBody(o));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid covenant override ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const now = new Date(0).toISOString();
  const result = applyCovenantChange(defaultContract("replay", catalogue, now), parsed.data, catalogue, now);
  if (!result.ok) throw new Error(`invalid covenant override ${result.param}: ${result.message}`);
  return result.contract;
}

/** A `--warm-ahead` value, checked. */
export function warmAhead(raw: string | undefined): "off" | "burst" | undefined {
  if (raw === undefined || raw === "off" || raw === "burst") return raw;
  throw new Error("--warm-ahead must be off or burst");
}
