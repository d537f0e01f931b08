/**
 * Who is asking and what they may do: the authenticated key, resolved once per request by the auth
 * middleware and read by every route, MCP tool and limit check. Pure: no I/O.
 */
import { SCOPES, type Limits, type Scope } from "../schema/tenancy";

export interface Principal {
  tenant: string;
  /** `key_…` for an issued key; `config:<tenant>` for a key from configuration. Safe to log. */
  keyId: string;
  scopes: ReadonlySet<Scope>;
  /** The only covenants this key may use; null: all of the tenant's. */
  covenants: readonly string[] | null;
  /** The only models this key may run; null: all. */
  models: readonly string[] | null;
  /** The key's own limits; null: none (the covenant's still apply). */
  limits: Limits | null;
  /** Epoch ms after which the key is refused; null: never. */
  expiresAt: number | null;
}

export const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);

/** A Principal as plain data, for Durable Object RPC, storage and WebSocket attachments. */
export interface PrincipalRecord {
  tenant: string;
  keyId: string;
  scopes: Scope[];
  covenants: string[] | null;
  models: string[] | null;
  limits: Limits | null;
  expiresAt: number | null;
}

export function principalOf(r: PrincipalRecord): Principal {
  return { ...r, scopes: new Set(r.scopes) };
}

export function recordOf(p: Principal): PrincipalRecord {
  return { ...p, scopes: [...p.scopes], covenants: p.covenants ? [...p.covenants] : null, models: p.models ? [...p.models] : null };
}

/** A key from configuration (HOMESKILLET_TENANT_KEYS, the dev key): every scope, no narrowing, no limits. */
export function configuredPrincipal(tenant: string): Principal {
  return { tenant, keyId: `config:${tenant}`, scopes: ALL_SCOPES, covenants: null, models: null, limits: null, expiresAt: null };
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has(scope);
}

export function mayUseCovenant(p: Principal, covenantId: string): boolean {
  return p.covenants === null || p.covenants.includes(covenantId);
}

export function mayUseModel(p: Principal, model: string): boolean {
  return p.models === null || p.models.includes(model);
}

/** What a new key asks for, in the terms `mayMint` compares. */
export interface KeyGrant {
  scopes: readonly Scope[];
  covenants?: readonly string[] | undefined;
  models?: readonly string[] | undefined;
  limits?: Limits | undefined;
  expiresAt?: number | null | undefined;
}

const LIMIT_FIELDS = ["requests_per_minute", "tokens_per_minute", "max_concurrent", "max_usd_per_day", "max_usd_per_month"] as const;

/**
 * Whether `parent` may issue a key with `grant`: never more than it has. Every scope, covenant
 * and model of the grant must be the parent's; where the parent is limited, the grant must be
 * limited at least as tightly; a parent that expires cannot mint a key that outlives it. Returns
 * the field that goes too far, or null.
 */
export function exceedsParent(parent: Principal, grant: KeyGrant): { param: string; message: string } | null {
  const extraScope = grant.scopes.find((s) => !parent.scopes.has(s));
  if (extraScope) return { param: "scopes", message: `this key lacks the scope ${extraScope}, so it cannot grant it` };
  if (parent.covenants !== null) {
    if (!grant.covenants) return { param: "covenants", message: "this key is limited to some covenants: name them (a subset of its own)" };
    const extra = grant.covenants.find((c) => !parent.covenants!.includes(c));
    if (extra) return { param: "covenants", message: `this key may not use covenant ${extra}, so it cannot grant it` };
  }
  if (parent.models !== null) {
    if (!grant.models) return { param: "models", message: "this key is limited to some models: name them (a subset of its own)" };
    const extra = grant.models.find((m) => !parent.models!.includes(m));
    if (extra) return { param: "models", message: `this key may not use model ${extra}, so it cannot grant it` };
  }
  if (parent.limits) {
    for (const field of LIMIT_FIELDS) {
      const mine = parent.limits[field];
      if (mine === undefined) continue;
      const theirs = grant.limits?.[field];
      if (theirs === undefined || theirs > mine) return { param: `limits.${field}`, message: `this key has ${field} ${mine}: a key it issues must have at most that` };
    }
  }
  if (parent.expiresAt !== null) {
    if (grant.expiresAt === undefined || grant.expiresAt === null || grant.expiresAt > parent.expiresAt) {
      return { param: "expires_at", message: `this key expires at ${new Date(parent.expiresAt).toISOString()}: a key it issues must expire no later` };
    }
  }
  return null;
}
