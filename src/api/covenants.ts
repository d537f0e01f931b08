import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { mayUseCovenant } from "../auth";
import { actorOf } from "./actor";
import { DEFAULT_COVENANT_ID } from "../policy";
import { CovenantContract, CovenantCreate, CovenantId, CovenantPatch, CovenantStatus, CovenantUsage, ErrorBody, UsageQuery } from "../schema";
import { json, newRouter, type AppEnv } from "./app-types";
import { limitBody, requireJson } from "./middleware";
import { covenantStub, directoryStub } from "./stubs";

const errors = {
  400: json(ErrorBody, "Invalid covenant (the error names the field)"),
  401: json(ErrorBody, "Missing or invalid API key"),
  403: json(ErrorBody, "The key lacks the scope this route needs"),
  404: json(ErrorBody, "No such covenant for this tenant (or this key may not use it)"),
};
const IdParam = z.object({ id: CovenantId.openapi({ param: { name: "id", in: "path" } }) });
const reading = [{ bearer: ["covenants:read"] }];
const writing = [{ bearer: ["covenants:write"] }];

const notFound = (id: string) => ({ error: { type: "covenant_not_found", message: `no covenant ${id}` } });

const listRoute = createRoute({
  method: "get",
  path: "/v1/covenants",
  summary: "The tenant's covenants (those this key may use)",
  security: reading,
  responses: {
    200: json(z.object({ object: z.literal("list"), data: z.array(z.object({ id: z.string(), created_at: z.string().nullable() })) }), "Covenant ids"),
    401: errors[401],
    403: errors[403],
  },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/covenants",
  summary: "Create a covenant (within the tenant's covenant quota)",
  security: writing,
  middleware: [limitBody, requireJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: CovenantCreate } } } },
  responses: { 201: json(CovenantContract, "The covenant with every default filled in"), 409: json(ErrorBody, "A covenant with that id exists"), ...errors },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/covenants/{id}",
  summary: "A covenant with its live leases, their utilisation and the queue depth",
  security: reading,
  request: { params: IdParam },
  responses: { 200: json(CovenantStatus, "Contract and status"), ...errors },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/v1/covenants/{id}",
  summary: "Change a covenant (sections merge field by field)",
  security: writing,
  middleware: [limitBody, requireJson] as const,
  request: { params: IdParam, body: { required: true, content: { "application/json": { schema: CovenantPatch } } } },
  responses: { 200: json(CovenantContract, "The updated covenant"), ...errors },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/covenants/{id}",
  summary: "Delete a covenant, releasing its leases (the default covenant returns to its defaults)",
  security: writing,
  request: { params: IdParam },
  responses: {
    200: json(z.object({ id: z.string(), deleted: z.literal(true), leases_released: z.number().int() }), "Deleted"),
    409: json(ErrorBody, "Strikes are still running"),
    ...errors,
  },
});

const usageRoute = createRoute({
  method: "get",
  path: "/v1/covenants/{id}/usage",
  summary: "Spend and tokens by model and pool for a period (today, UTC, by default)",
  security: [{ bearer: ["usage:read"] }],
  request: { params: IdParam, query: UsageQuery },
  responses: { 200: json(CovenantUsage, "Usage"), ...errors },
});

/** A key narrowed to some covenants sees the others as if they did not exist. */
const mayUse = (c: Context<AppEnv>, id: string) => mayUseCovenant(c.get("principal"), id);

async function audit(c: Context<AppEnv>, action: string, id: string, before: unknown, after: unknown): Promise<void> {
  const tenant = c.get("tenant");
  const who = actorOf(c);
  await directoryStub(c.env, tenant).recordChange({ tenant, kind: "covenant", action, target: id, before, after, actor: who.actor, request_id: who.requestId });
}

export const covenants = newRouter()
  .openapi(listRoute, async (c) => {
    const listed = await directoryStub(c.env, c.get("tenant")).list();
    const all = listed.some((x) => x.id === DEFAULT_COVENANT_ID) ? listed : [{ id: DEFAULT_COVENANT_ID, created_at: null }, ...listed];
    return c.json({ object: "list" as const, data: all.filter((x) => mayUse(c, x.id)) }, 200);
  })
  .openapi(createRouteDef, async (c) => {
    const body = c.req.valid("json");
    const tenant = c.get("tenant");
    const id = body.id ?? `cov_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    if (!mayUse(c, id)) {
      return c.json({ error: { type: "covenant_not_allowed", message: `this key may not use covenant ${id}`, param: "id" } }, 403);
    }
    const directory = directoryStub(c.env, tenant);
    const claimed = await directory.add(id, new Date().toISOString());
    if (!claimed.ok) {
      const { ok: _ok, status, ...error } = claimed;
      return c.json({ error }, status as 403 | 409);
    }
    const { id: _omit, ...change } = body;
    const result = await covenantStub(c.env, tenant, id).configure(tenant, id, change, "create");
    if (!result.ok) {
      await directory.remove(id);
      return c.json({ error: result.error }, result.status as 400 | 409);
    }
    await audit(c, "covenant.create", id, null, result.value);
    return c.json(result.value, 201);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = c.get("tenant");
    if (!mayUse(c, id)) return c.json(notFound(id), 404);
    const result = await covenantStub(c.env, tenant, id).status(tenant, id);
    if (!result.ok) return c.json({ error: result.error }, 404);
    return c.json(result.value, 200);
  })
  .openapi(patchRoute, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = c.get("tenant");
    if (!mayUse(c, id)) return c.json(notFound(id), 404);
    const stub = covenantStub(c.env, tenant, id);
    // The default covenant exists for every tenant: patching it first materialises it.
    const before = await stub.status(tenant, id);
    const result = await stub.configure(tenant, id, c.req.valid("json"), "patch");
    if (!result.ok) return c.json({ error: result.error }, result.status as 400 | 404);
    await audit(c, "covenant.update", id, before.ok ? before.value.covenant : null, result.value);
    return c.json(result.value, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = c.get("tenant");
    if (!mayUse(c, id)) return c.json(notFound(id), 404);
    const stub = covenantStub(c.env, tenant, id);
    const before = await stub.status(tenant, id);
    const result = await stub.retire(tenant, id);
    if (!result.ok) return c.json({ error: result.error }, result.status as 404 | 409);
    await directoryStub(c.env, tenant).remove(id);
    await audit(c, "covenant.delete", id, before.ok ? before.value.covenant : null, null);
    return c.json({ id, deleted: true as const, leases_released: result.value.released }, 200);
  })
  .openapi(usageRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { from, to } = c.req.valid("query");
    const tenant = c.get("tenant");
    if (!mayUse(c, id)) return c.json(notFound(id), 404);
    const fromMs = from ? Date.parse(from) : undefined;
    const toMs = to ? Date.parse(to) : undefined;
    if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) {
      return c.json({ error: { type: "invalid_request", message: "`from` must be before `to`", param: "from" } }, 400);
    }
    const result = await covenantStub(c.env, tenant, id).usage(tenant, id, fromMs, toMs);
    if (!result.ok) return c.json({ error: result.error }, 404);
    return c.json(result.value, 200);
  });
