import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { exceedsParent, forgetKey } from "../auth";
import { ErrorBody, KeyCreate, KeyCreated, KeyPatch, KeyRotate, KeyView } from "../schema";
import { revokeKeyLimits } from "../limits";
import type { Refused } from "../tenancy";
import { actorOf } from "./actor";
import { json, newRouter, type AppEnv } from "./app-types";
import { limitBody, optionalJson, requireJson } from "./middleware";
import { directoryStub } from "./stubs";

const security = [{ bearer: ["keys"] }];
const errors = {
  400: json(ErrorBody, "Invalid request (the error names the field)"),
  401: json(ErrorBody, "Missing or invalid API key"),
  403: json(ErrorBody, "The key lacks the `keys` scope, would grant more than it has, or the key quota is reached"),
  409: json(ErrorBody, "The key is revoked"),
  410: json(ErrorBody, "The tenant was deleted"),
};
const notFound = { 404: json(ErrorBody, "No such key for this tenant") };
const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys",
  summary: "Issue a key: its secret is in this answer only",
  description: "A key never grants more than the key issuing it: scopes, covenants and models are subsets of its own, limits no looser, expiry no later.",
  security,
  middleware: [limitBody, requireJson] as const,
  request: { body: { required: true, content: { "application/json": { schema: KeyCreate } } } },
  responses: { 201: json(KeyCreated, "The key, with its secret"), ...errors },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  summary: "The tenant's keys (never their secrets)",
  security,
  responses: { 200: json(z.object({ object: z.literal("list"), data: z.array(KeyView) }), "Keys"), 401: errors[401], 403: errors[403] },
});

const getKeyRoute = createRoute({
  method: "get",
  path: "/v1/keys/{id}",
  summary: "One key, with when it was last used",
  security,
  request: { params: IdParam },
  responses: { 200: json(KeyView, "The key"), ...errors, ...notFound },
});

const patchKeyRoute = createRoute({
  method: "patch",
  path: "/v1/keys/{id}",
  summary: "Rename a key, or change its limits or expiry",
  security,
  middleware: [limitBody, requireJson] as const,
  request: { params: IdParam, body: { required: true, content: { "application/json": { schema: KeyPatch } } } },
  responses: { 200: json(KeyView, "The key"), ...errors, ...notFound },
});

const deleteKeyRoute = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  summary: "Revoke a key: refused everywhere within the key cache period",
  security,
  request: { params: IdParam },
  responses: { 200: json(KeyView, "The revoked key"), ...errors, ...notFound },
});

const rotateKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys/{id}/rotate",
  summary: "A new secret for a key; the old one works for grace_s seconds, then never",
  security,
  middleware: [limitBody, optionalJson] as const,
  request: { params: IdParam, body: { required: false, content: { "application/json": { schema: KeyRotate } } } },
  responses: { 200: json(KeyCreated, "The key, with its new secret"), ...errors, ...notFound },
});

function refusal(c: Context<AppEnv>, r: Refused) {
  const { ok: _ok, status, ...error } = r;
  return c.json({ error }, status as 403 | 409 | 410);
}

/**
 * A key managing keys touches only keys no more powerful than itself: it may not see, change,
 * rotate or revoke one that has a scope, covenant or model it lacks.
 */
function withinReach(c: Context<AppEnv>, view: KeyView): boolean {
  return exceedsParent(c.get("principal"), { scopes: view.scopes, covenants: view.covenants ?? undefined, models: view.models ?? undefined }) === null;
}

/** A key of the caller's tenant that the caller may manage; undefined reads as "no such key". */
async function keyWithinReach(c: Context<AppEnv>, id: string): Promise<KeyView | undefined> {
  const view = await directoryStub(c.env, c.get("tenant")).getKey(id);
  return view && withinReach(c, view) ? view : undefined;
}

const keyNotFound = (id: string) => ({ error: { type: "key_not_found", message: `no key ${id}`, param: "id" } });

export const keys = newRouter()
  .openapi(createKeyRoute, async (c) => {
    const grant = c.req.valid("json");
    if (grant.expires_at !== undefined && Date.parse(grant.expires_at) <= Date.now()) {
      return c.json({ error: { type: "invalid_request", message: "expires_at must be in the future", param: "expires_at" } }, 400);
    }
    const principal = c.get("principal");
    const tooMuch = exceedsParent(principal, { ...grant, expiresAt: grant.expires_at ? Date.parse(grant.expires_at) : null });
    if (tooMuch) return c.json({ error: { type: "exceeds_parent_key", ...tooMuch } }, 403);
    const created = await directoryStub(c.env, principal.tenant).createKey(principal.tenant, grant, actorOf(c));
    if (!created.ok) return refusal(c, created);
    return c.json({ ...created.value.view, key: created.value.secret }, 201, { "cache-control": "no-store" });
  })
  .openapi(listKeysRoute, async (c) => {
    const all = await directoryStub(c.env, c.get("tenant")).listKeys();
    return c.json({ object: "list" as const, data: all.filter((k) => withinReach(c, k)) }, 200);
  })
  .openapi(getKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const view = await keyWithinReach(c, id);
    if (!view) return c.json(keyNotFound(id), 404);
    return c.json(view, 200);
  })
  .openapi(patchKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const tenant = c.get("tenant");
    const directory = directoryStub(c.env, tenant);
    const current = await keyWithinReach(c, id);
    if (!current) return c.json(keyNotFound(id), 404);
    if (patch.expires_at && Date.parse(patch.expires_at) <= Date.now()) {
      return c.json({ error: { type: "invalid_request", message: "expires_at must be in the future", param: "expires_at" } }, 400);
    }
    const limits = patch.limits === undefined ? current.limits ?? undefined : patch.limits ?? undefined;
    const expiresAt = patch.expires_at === undefined ? (current.expires_at ? Date.parse(current.expires_at) : null) : patch.expires_at ? Date.parse(patch.expires_at) : null;
    const tooMuch = exceedsParent(c.get("principal"), { scopes: current.scopes, covenants: current.covenants ?? undefined, models: current.models ?? undefined, limits, expiresAt });
    if (tooMuch) return c.json({ error: { type: "exceeds_parent_key", ...tooMuch } }, 403);
    const r = await directory.patchKey(tenant, id, patch, actorOf(c));
    if (!r.ok) return refusal(c, r);
    forgetKey(id);
    return c.json(r.value, 200);
  })
  .openapi(deleteKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = c.get("tenant");
    const directory = directoryStub(c.env, tenant);
    const current = await keyWithinReach(c, id);
    if (!current) return c.json(keyNotFound(id), 404);
    const r = await directory.revokeKey(tenant, id, actorOf(c));
    if (!r.ok) return refusal(c, r);
    forgetKey(id);
    if (current.limits) await revokeKeyLimits(c.env, tenant, id);
    return c.json(r.value, 200);
  })
  .openapi(rotateKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = c.get("tenant");
    const graceS = c.req.valid("json").grace_s ?? 0;
    const directory = directoryStub(c.env, tenant);
    const current = await keyWithinReach(c, id);
    if (!current) return c.json(keyNotFound(id), 404);
    const r = await directory.rotateKey(tenant, id, graceS, actorOf(c));
    if (!r.ok) return refusal(c, r);
    forgetKey(id);
    return c.json({ ...r.value.view, key: r.value.secret }, 200, { "cache-control": "no-store" });
  });
