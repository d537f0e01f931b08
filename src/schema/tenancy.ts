// Tenants, API keys, limits, quotas and the audit log: the shapes of /v1/keys, /v1/admin/* and
// /v1/audit, shared by the routes, the OpenAPI document and the Durable Objects behind them.
import { z } from "@hono/zod-openapi";
import { CovenantId } from "./common";

/** Tenant ids become part of Durable Object names, as covenant ids do. */
export const TenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'; 1 to 64 characters")
  .openapi({ example: "acme" });

/**
 * What a key may do. `strike`: strikes, chat completions, classification, MCP tools that run
 * work. `covenants:read` / `covenants:write`: covenant status and changes. `keys`: issue and manage
 * the tenant's keys. `usage:read`: usage and the audit log.
 */
export const SCOPES = ["strike", "covenants:read", "covenants:write", "keys", "usage:read"] as const;
export const Scope = z.enum(SCOPES).openapi("Scope");
export type Scope = z.infer<typeof Scope>;

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const usd = z.number().positive().max(1_000_000);

/**
 * Limits on a key or a covenant. Requests and tokens are token buckets refilled continuously over
 * a minute (a burst of the whole limit, then a steady rate); tokens count the prompt plus
 * `max_tokens` when a strike is admitted and are settled to what it used when it ends.
 */
export const Limits = z
  .object({
    requests_per_minute: positiveInt(1_000_000).optional(),
    tokens_per_minute: positiveInt(1_000_000_000).optional(),
    max_concurrent: positiveInt(100_000).optional(),
    max_usd_per_day: usd.optional(),
    max_usd_per_month: usd.optional(),
  })
  .strict()
  .openapi("Limits");
export type Limits = z.infer<typeof Limits>;

/** Limits a covenant can carry (budgets of its own are in `cost`). */
export const CovenantLimits = Limits.pick({ requests_per_minute: true, tokens_per_minute: true, max_concurrent: true }).strict().openapi("CovenantLimits");
export type CovenantLimits = z.infer<typeof CovenantLimits>;

const Timestamp = z.string().datetime({ offset: true }).openapi({ example: "2026-12-31T23:59:59Z" });

export const KeyName = z.string().trim().min(1).max(100);

export const KeyCreate = z
  .object({
    name: KeyName,
    scopes: z.array(Scope).min(1).max(SCOPES.length),
    covenants: z.array(CovenantId).min(1).max(100).optional().openapi({ description: "Only these covenants; all when absent." }),
    models: z.array(z.string().min(1).max(100)).min(1).max(100).optional().openapi({ description: "Only these models; all when absent." }),
    expires_at: Timestamp.optional(),
    limits: Limits.optional(),
  })
  .strict()
  .openapi("KeyCreate");
export type KeyCreate = z.infer<typeof KeyCreate>;

export const KeyPatch = z
  .object({
    name: KeyName.optional(),
    expires_at: Timestamp.nullable().optional(),
    limits: Limits.nullable().optional().openapi({ description: "Replaces the key's limits; null removes them." }),
  })
  .strict()
  .openapi("KeyPatch");
export type KeyPatch = z.infer<typeof KeyPatch>;

export const KeyRotate = z
  .object({ grace_s: z.number().int().min(0).max(7 * 86_400).optional().openapi({ description: "How long the old secret keeps working (default 0)." }) })
  .strict()
  .openapi("KeyRotate");

export const KeyView = z
  .object({
    id: z.string(),
    object: z.literal("key"),
    name: z.string(),
    /** The first characters of the secret, to recognise it; never enough to use it. */
    prefix: z.string(),
    scopes: z.array(Scope),
    covenants: z.array(z.string()).nullable(),
    models: z.array(z.string()).nullable(),
    limits: Limits.nullable(),
    created_at: Timestamp,
    expires_at: Timestamp.nullable(),
    last_used_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
    /** Until then the secret before the last rotation still works. */
    previous_secret_expires_at: Timestamp.nullable(),
    created_by: z.string(),
  })
  .openapi("Key");
export type KeyView = z.infer<typeof KeyView>;

export const KeyCreated = KeyView.extend({ key: z.string().openapi({ description: "The secret: shown only in this answer." }) }).openapi("KeyCreated");
export type KeyCreated = z.infer<typeof KeyCreated>;

export const TenantQuotas = z
  .object({
    covenants: z.number().int().min(1).max(100_000),
    keys: z.number().int().min(1).max(100_000),
    mcp_sessions: z.number().int().min(1).max(100_000),
  })
  .openapi("TenantQuotas");
export type TenantQuotas = z.infer<typeof TenantQuotas>;

export const DEFAULT_QUOTAS: TenantQuotas = { covenants: 100, keys: 50, mcp_sessions: 20 };

export const TenantCreate = z.object({ id: TenantId, quotas: TenantQuotas.partial().strict().optional() }).strict().openapi("TenantCreate");
export type TenantCreate = z.infer<typeof TenantCreate>;
export const TenantPatch = z.object({ quotas: TenantQuotas.partial().strict() }).strict().openapi("TenantPatch");
export type TenantPatch = z.infer<typeof TenantPatch>;

export const TenantView = z
  .object({
    id: z.string(),
    object: z.literal("tenant"),
    /** `api`: created with POST /v1/admin/tenants; `config`: from HOMESKILLET_TENANT_KEYS / the dev key. */
    source: z.enum(["api", "config"]),
    quotas: TenantQuotas,
    usage: z.object({ covenants: z.number().int(), keys: z.number().int(), mcp_sessions: z.number().int() }),
    created_at: Timestamp.nullable(),
  })
  .openapi("Tenant");
export type TenantView = z.infer<typeof TenantView>;

export const TenantCreated = TenantView.extend({ admin_key: KeyCreated }).openapi("TenantCreated");

export const AUDIT_KINDS = ["tenant", "key", "covenant"] as const;

export const AuditEntry = z
  .object({
    id: z.string(),
    at: Timestamp,
    tenant: z.string(),
    /** Who: a key id (`key_…`), `config:<tenant>` for a configured key, or `operator`. Never a secret. */
    actor: z.string(),
    kind: z.enum(AUDIT_KINDS),
    action: z.string().openapi({ example: "key.rotate" }),
    target: z.string(),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
    request_id: z.string().nullable(),
  })
  .openapi("AuditEntry");
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditQuery = z
  .object({
    from: Timestamp.optional(),
    to: Timestamp.optional(),
    kind: z.enum(AUDIT_KINDS).optional(),
    tenant: TenantId.optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    after: z.string().max(64).optional().openapi({ description: "Cursor: the `next` of the previous page." }),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuery>;
