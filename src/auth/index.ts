import type { MiddlewareHandler } from "hono";
import type { Env } from "../env";
import { bearerToken } from "./keys";
import type { Principal } from "./principal";
import { resolveKey } from "./resolve";
import type { RouteScopes } from "./route-scopes";

export { bearerToken, buildKeyTable, KeyConfigError, sha256Hex } from "./keys";
export {
  ALL_SCOPES,
  configuredPrincipal,
  exceedsParent,
  hasScope,
  mayUseCovenant,
  mayUseModel,
  principalOf,
  recordOf,
  type KeyGrant,
  type Principal,
  type PrincipalRecord,
} from "./principal";
export { forgetKey, forgetTenant, ISSUED_KEY_PREFIX, KEY_CACHE_S, keyCacheMs, resolveKey, tenantKeyTable, type Resolved } from "./resolve";
export { RouteScopes, type RouteAuth } from "./route-scopes";
export { newTaggedSecret, taggedTenant } from "./tagged-secret";

export interface AuthVariables {
  tenant: string;
  principal: Principal;
}

export function unauthorized(message: string): Response {
  return Response.json(
    { error: { type: "unauthorized", message } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="homeskillet"' } },
  );
}

/** The principal of a bearer secret, or the 401 to answer. */
export async function principalFor(env: Env, key: string | undefined): Promise<Principal | Response> {
  if (!key) return unauthorized("missing API key: send `Authorization: Bearer <key>`");
  const r = await resolveKey(env, key);
  if (r.ok) return r.principal;
  return unauthorized(r.reason === "expired" ? "this API key has expired" : "invalid API key");
}

/**
 * Every tenant route runs behind this: `Authorization: Bearer <key>` or 401, and the scopes the
 * route's OpenAPI `security` names or 403. Operator routes check the operator key themselves.
 */
export function requireTenant(routes: RouteScopes): MiddlewareHandler<{ Bindings: Env; Variables: AuthVariables }> {
  return async (c, next) => {
    const auth = routes.lookup(c.req.method, c.req.path);
    if (auth?.kind === "operator" || auth?.kind === "public" || c.req.method === "OPTIONS") return next();
    const principal = await principalFor(c.env, bearerToken(c.req.header("authorization")));
    if (principal instanceof Response) return principal;
    const missing = auth?.scopes.filter((s) => !principal.scopes.has(s)) ?? [];
    if (missing.length > 0) {
      return Response.json(
        { error: { type: "insufficient_scope", message: `this key lacks the scope ${missing.join(", ")} that ${c.req.method} ${c.req.path} needs`, required_scopes: auth!.kind === "tenant" ? auth!.scopes : [] } },
        { status: 403 },
      );
    }
    c.set("tenant", principal.tenant);
    c.set("principal", principal);
    await next();
  };
}
