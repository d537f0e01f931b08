import { COVENANT_DEFAULTS, type CovenantContract, type CovenantCreate, type CovenantLimits, type CovenantLimitsChange, type CovenantPatch } from "../schema";
import { DEFAULT_MODEL_ID, type ModelCatalogue } from "./models";

export const DEFAULT_COVENANT_ID = "default";

/** Every default a covenant gets when its tenant says nothing. */
export function defaultContract(id: string, catalogue: ModelCatalogue, nowIso: string): CovenantContract {
  return {
    id,
    models: [...catalogue.keys()],
    default_model: DEFAULT_MODEL_ID,
    resources: {},
    qos: { ...COVENANT_DEFAULTS.qos },
    cost: { ...COVENANT_DEFAULTS.cost },
    fallback: [],
    lease: { ...COVENANT_DEFAULTS.lease },
    cache: { ...COVENANT_DEFAULTS.cache },
    policy: COVENANT_DEFAULTS.policy,
    created_at: nowIso,
    updated_at: nowIso,
  };
}

/**
 * A stored contract with defaults for fields added since it was written, so covenants created by
 * an older version keep working unchanged.
 */
export function normalizeContract(stored: CovenantContract): CovenantContract {
  return {
    ...stored,
    qos: { ...COVENANT_DEFAULTS.qos, ...stored.qos },
    cost: { ...COVENANT_DEFAULTS.cost, ...stored.cost },
    lease: { ...COVENANT_DEFAULTS.lease, ...stored.lease },
    cache: { ...COVENANT_DEFAULTS.cache, ...stored.cache },
    policy: stored.policy ?? COVENANT_DEFAULTS.policy,
  };
}

/**
 * The `limits` section after a change: fields merge one by one, `null` removes a limit (and
 * `limits: null` all of them); a covenant with no limit left has no section, so it costs nothing.
 */
function limitsSection(base: CovenantLimits | undefined, change: CovenantLimitsChange | null | undefined): { limits?: CovenantLimits } {
  if (change === undefined) return base !== undefined ? { limits: base } : {};
  if (change === null) return {};
  const merged: Record<string, number> = { ...base };
  for (const [field, value] of Object.entries(change)) {
    if (value === null) delete merged[field];
    else if (value !== undefined) merged[field] = value;
  }
  return Object.keys(merged).length > 0 ? { limits: merged as CovenantLimits } : {};
}

/**
 * The contract a key narrowed to some models sees: only the models both allow, the default moved
 * to the first of them when the covenant's own is not among them. Null when none is left.
 */
export function narrowToModels(contract: CovenantContract, allowed: readonly string[] | undefined): CovenantContract | null {
  if (!allowed) return contract;
  const models = contract.models.filter((m) => allowed.includes(m));
  if (models.length === 0) return null;
  if (models.length === contract.models.length) return contract;
  return { ...contract, models, default_model: models.includes(contract.default_model) ? contract.default_model : models[0]! };
}

export type ContractResult = { ok: true; contract: CovenantContract } | { ok: false; param: string; message: string };

/**
 * Applies a create or patch body to a contract (sections merge field by field) and checks what
 * zod cannot: models must be known, the default model must be allowed.
 */
export function applyCovenantChange(
  base: CovenantContract,
  change: CovenantCreate | CovenantPatch,
  catalogue: ModelCatalogue,
  nowIso: string,
): ContractResult {
  const { limits: _replaced, ...unlimited } = base;
  const next: CovenantContract = {
    ...unlimited,
    models: change.models ?? base.models,
    default_model: change.default_model ?? base.default_model,
    resources: change.resources ? { ...base.resources, ...change.resources } : base.resources,
    qos: change.qos ? { ...base.qos, ...change.qos } : base.qos,
    cost: change.cost ? { ...base.cost, ...change.cost } : base.cost,
    fallback: change.fallback ?? base.fallback,
    lease: change.lease ? { ...base.lease, ...change.lease } : base.lease,
    cache: change.cache ? { ...base.cache, ...change.cache } : base.cache,
    policy: change.policy ?? base.policy,
    ...(change.fusion !== undefined ? { fusion: { ...base.fusion, ...change.fusion } } : base.fusion !== undefined ? { fusion: base.fusion } : {}),
    ...(change.routes !== undefined ? { routes: change.routes } : base.routes !== undefined ? { routes: base.routes } : {}),
    ...(change.logging !== undefined ? { logging: { ...base.logging, ...change.logging } } : base.logging !== undefined ? { logging: base.logging } : {}),
    ...limitsSection(base.limits, change.limits),
    updated_at: nowIso,
  };
  const unknown = next.models.findIndex((m) => !catalogue.has(m));
  if (unknown >= 0) {
    return { ok: false, param: `models.${unknown}`, message: `unknown model ${JSON.stringify(next.models[unknown])}; known: ${[...catalogue.keys()].join(", ")}` };
  }
  if (change.models && !change.default_model && !next.models.includes(next.default_model)) {
    // Narrowing the model list moves the default to the first allowed model.
    next.default_model = next.models[0]!;
  }
  const badRoute = (next.routes ?? []).findIndex((r) => !catalogue.has(r.model));
  if (badRoute >= 0) {
    return { ok: false, param: `routes.${badRoute}.model`, message: `unknown model ${JSON.stringify(next.routes![badRoute]!.model)}` };
  }
  if (!next.models.includes(next.default_model)) {
    return { ok: false, param: "default_model", message: `default_model ${JSON.stringify(next.default_model)} is not among the covenant's models` };
  }
  const { min_vram_mb, max_vram_mb } = next.resources;
  if (min_vram_mb !== undefined && max_vram_mb !== undefined && min_vram_mb > max_vram_mb) {
    return { ok: false, param: "resources.max_vram_mb", message: "max_vram_mb must be at least min_vram_mb" };
  }
  if (next.lease.max_warm_leases > next.lease.max_leases) {
    return { ok: false, param: "lease.max_warm_leases", message: "max_warm_leases cannot exceed max_leases" };
  }
  return { ok: true, contract: next };
}
