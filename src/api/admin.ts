/**
 * The operator API: tenants and the deployment's audit log, behind the operator key. A tenant
 * created here gets its first key (every scope) in the answer, once.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { forgetTenant, tenantKeyTable } from "../auth";
import { mapLimit } from "../concurrency";
import { revokeKeyLimits } from "../limits";
import { AuditQuery, ErrorBody, SCOPES, TenantCreate, TenantCreated, TenantId, TenantPatch, TenantView } from "../schema";
import { requireOperator } from "../telemetry";
import { REGISTRY_NAME, validCursor, type AuditPage } from "../tenancy";
import { actorOf } from "./actor";
import { json, newRouter, type AppEnv } from "./app-types";
import { auditPageSchema } from "./audit";
import { limitBody, requireJson } from "./middleware";
import { directoryStub } from "./stubs";

const security = [{ operator: [] }];
const errors = {
  400: json(ErrorBody, "Invalid request (the error names the field)"),
  401: json(ErrorBody, "Missing or invalid operator key"),
  503: json(ErrorBody, "No operator key is configured for this deployment"),
};
const notFound = { 404: json(ErrorBody, "No such tenant") };
const IdParam = z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).optional(), after: TenantId.optional() }).strict();
/** Tenants described at once when listing (each is one directory call). */
const DESCRIBE_FAN_OUT = 8;

const createTenantRoute = createRoute({
  method: "post",
  path: "/v1/admin/tenants",
  summary: "Create a tenant; its first key (every scope) is in this answer only",
  security,
  middleware: [requireOperator, limitBody, requireJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: TenantCreate } } } },
  responses: { 201: json(TenantCreated, "The tenant and its admin key"), 409: json(ErrorBody, "The id is taken"), ...errors },
});

const listTenantsRoute = createRoute({
  method: "get",
  path: "/v1/admin/tenants",
  summary: "Every tenant: configured ones, then those created here, by id",
  security,
  middleware: [requireOperator] as const,
  request: { query: ListQuery },
  responses: { 200: json(z.object({ object: z.literal("list"), data: z.array(TenantView), next: z.string().nullable() }), "Tenants"), ...errors },
});

const getTenantRoute = createRoute({
  method: "get",
  path: "/v1/admin/tenants/{id}",
  summary: "A tenant with its quotas and what it uses of them",
  security,
  middleware: [requireOperator] as const,
  request: { params: IdParam },
  responses: { 200: json(TenantView, "The tenant"), ...errors, ...notFound },
});

const patchTenantRoute = createRoute({
  method: "patch",
  path: "/v1/admin/tenants/{id}",
  summary: "Change a tenant's quotas",
  security,
  middleware: [requireOperator, limitBody, requireJson] as const,
  request: { params: IdParam, body: { required: true, content: { "application/json": { schema: TenantPatch } } } },
  responses: { 200: json(TenantView, "The tenant"), ...errors, ...notFound },
});

const deleteTenantRoute = createRoute({
  method: "delete",
  path: "/v1/admin/tenants/{id}",
  summary: "Delete a tenant: every key is revoked, every covenant retired and its leases released",
  security,
  middleware: [requireOperator] as const,
  request: { params: IdParam },
  responses: {
    200: json(
      z.object({ id: z.string(), deleted: z.literal(true), keys_revoked: z.number().int(), covenants_retired: z.array(z.string()), covenants_pending: z.array(z.string()) }),
      "Deleted; covenants with strikes still running are retired as soon as they finish",
    ),
    409: json(ErrorBody, "A tenant from configuration cannot be deleted here"),
    ...errors,
    ...notFound,
  },
});

const adminAuditRoute = createRoute({
  method: "get",
  path: "/v1/admin/audit",
  summary: "The deployment's audit log, every tenant's, oldest first (paged; filter by time, kind, tenant)",
  security,
  middleware: [requireOperator] as const,
  request: { query: AuditQuery },
  responses: { 200: json(auditPageSchema, "Audit entries"), ...errors },
});

const registry = (c: Context<AppEnv>) => c.env.TENANT_REGISTRY.getByName(REGISTRY_NAME);

async function configuredTenants(c: Context<AppEnv>): Promise<string[]> {
  return [...new Set((await tenantKeyTable(c.env)).values())].sort();
}

async function describe(c: Context<AppEnv>, id: string, source: "api" | "config", createdAt: string | null): Promise<TenantView> {
  const directory = directoryStub(c.env, id);
  const [quotas, usage] = await Promise.all([directory.quotas(), directory.usage()]);
  return { id, object: "tenant", source, quotas, usage, created_at: createdAt };
}

/** The tenant's view, or undefined when no tenant has this id. */
async function find(c: Context<AppEnv>, id: string): Promise<TenantView | undefined> {
  if ((await configuredTenants(c)).includes(id)) return describe(c, id, "config", null);
  if (!(await registry(c).has(id))) return undefined;
  return describe(c, id, "api", await directoryStub(c.env, id).createdAt());
}

const noTenant = (id: string) => ({ error: { type: "tenant_not_found", message: `no tenant ${id}`, param: "id" } });

export const admin = newRouter()
  .openapi(createTenantRoute, async (c) => {
    const { id, quotas } = c.req.valid("json");
    const directory = directoryStub(c.env, id);
    if ((await directory.retiring()).length > 0) {
      return c.json({ error: { type: "tenant_being_deleted", message: `tenant ${id} is still being deleted; try again shortly`, param: "id" } }, 409);
    }
    if ((await configuredTenants(c)).includes(id) || !(await registry(c).claim(id, Date.now()))) {
      return c.json({ error: { type: "tenant_exists", message: `tenant ${id} already exists`, param: "id" } }, 409);
    }
    const who = actorOf(c, true);
    const full = await directory.setup(id, quotas ?? {}, who);
    const key = await directory.createKey(id, { name: "admin", scopes: [...SCOPES] }, who);
    if (!key.ok) return c.json({ error: { type: key.type, message: key.message } }, 409);
    const view: TenantView = { id, object: "tenant", source: "api", quotas: full, usage: await directory.usage(), created_at: await directory.createdAt() };
    return c.json({ ...view, admin_key: { ...key.value.view, key: key.value.secret } }, 201, { "cache-control": "no-store" });
  })
  .openapi(listTenantsRoute, async (c) => {
    const { limit = 100, after } = c.req.valid("query");
    const configured = (await configuredTenants(c)).filter((t) => after === undefined || t > after);
    const created = await registry(c).list(after, limit);
    const merged = [...configured.map((id) => ({ id, source: "config" as const, created_at: null })), ...created.map((t) => ({ id: t.id, source: "api" as const, created_at: t.created_at }))]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, limit);
    const data = await mapLimit(merged, DESCRIBE_FAN_OUT, (t) => describe(c, t.id, t.source, t.created_at));
    return c.json({ object: "list" as const, data, next: data.length === limit ? data[data.length - 1]!.id : null }, 200);
  })
  .openapi(getTenantRoute, async (c) => {
    const { id } = c.req.valid("param");
    const view = await find(c, id);
    return view ? c.json(view, 200) : c.json(noTenant(id), 404);
  })
  .openapi(patchTenantRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await find(c, id))) return c.json(noTenant(id), 404);
    await directoryStub(c.env, id).setQuotas(id, c.req.valid("json").quotas, actorOf(c, true));
    return c.json((await find(c, id))!, 200);
  })
  .openapi(deleteTenantRoute, async (c) => {
    const { id } = c.req.valid("param");
    if ((await configuredTenants(c)).includes(id)) {
      return c.json({ error: { type: "configured_tenant", message: `tenant ${id} comes from configuration (HOMESKILLET_TENANT_KEYS or the dev key): remove it there`, param: "id" } }, 409);
    }
    if (!(await registry(c).has(id))) return c.json(noTenant(id), 404);
    const directory = directoryStub(c.env, id);
    const limited = (await directory.listKeys()).filter((k) => k.limits !== null && k.revoked_at === null).map((k) => k.id);
    const removed = await directory.removeTenant(id, actorOf(c, true));
    forgetTenant(id);
    await mapLimit(limited, DESCRIBE_FAN_OUT, (keyId) => revokeKeyLimits(c.env, id, keyId).catch(() => {}));
    const pending = await directory.retireCovenants();
    await registry(c).release(id);
    const retired = ["default", ...removed.covenants].filter((x) => !pending.includes(x));
    return c.json({ id, deleted: true as const, keys_revoked: removed.keys_revoked, covenants_retired: retired, covenants_pending: pending }, 200);
  })
  .openapi(adminAuditRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.after !== undefined && !validCursor(query.after)) {
      return c.json({ error: { type: "invalid_request", message: "`after` is not a cursor this API gave", param: "after" } }, 400);
    }
    // Entries' before/after are any JSON, which RPC types cannot name: the shape is AuditPage.
    const page = (await registry(c).auditPage(query)) as unknown as AuditPage;
    return c.json(page, 200);
  });

