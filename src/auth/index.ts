import type { MiddlewareHandler } from "hono";
import type { Env } from "../env";
import { bearerToken, buildKeyTable, sha256Hex, type KeyTable } from "./keys";
import { configuredPrincipal, type Principal } from "./principal";

export { bearerToken, buildKeyTable, KeyConfigError, sha256Hex } from "./keys";
export { ALL_SCOPES, configuredPrincipal, exceedsParent, hasScope, mayUseCovenant, mayUseModel, type KeyGrant, type Principal } from "./principal";

export interface AuthVariables {
  tenant: string;
  principal: Principal;
}

// The key table is derived from configuration once per isolate (configuration cannot change
// without a new isolate), keyed by the raw settings so tests with other settings stay correct.
let cached: { source: string; table: Promise<KeyTable> } | undefined;

export function tenantKeyTable(env: Env): Promise<KeyTable> {
  return keyTable(env);
}

function keyTable(env: Env): Promise<KeyTable> {
  const source = `${env.HOMESKILLET_TENANT_KEYS ?? ""}\u0000${env.HOMESKILLET_DEV_KEY ?? ""}`;
  if (cached?.source !== source) cached = { source, table: buildKeyTable(env.HOMESKILLET_TENANT_KEYS, env.HOMESKILLET_DEV_KEY) };
  return cached.table;
}

/** The tenant a key belongs to, or undefined. */
export async function tenantForKey(env: Env, key: string): Promise<string | undefined> {
  return (await keyTable(env)).get(await sha256Hex(key));
}

function unauthorized(message: string): Response {
  return Response.json(
    { error: { type: "unauthorized", message } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="homeskillet"' } },
  );
}

/** Every API route runs behind this: `Authorization: Bearer <tenant key>` or 401. */
export const requireTenant: MiddlewareHandler<{ Bindings: Env; Variables: AuthVariables }> = async (c, next) => {
  const key = bearerToken(c.req.header("authorization"));
  if (!key) return unauthorized("missing API key: send `Authorization: Bearer <key>`");
  const table = await keyTable(c.env);
  if (table.size === 0) return unauthorized("no tenant keys are configured: set HOMESKILLET_TENANT_KEYS or HOMESKILLET_DEV_KEY");
  const tenant = table.get(await sha256Hex(key));
  if (!tenant) return unauthorized("invalid API key");
  c.set("tenant", tenant);
  c.set("principal", configuredPrincipal(tenant));
  await next();
};
