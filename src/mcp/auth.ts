import { bearerToken, tenantForKey } from "../auth";
import type { Env } from "../env";

/**
 * The tenant of an MCP request: `Authorization: Bearer <key>`, or a `key` query parameter for
 * clients that cannot set headers on a WebSocket (browsers, the SDK's WebSocket transport).
 * The key is never logged: only the path reaches logs, and the URL handed on carries no query.
 */
export async function mcpTenant(env: Env, request: Request): Promise<string | Response> {
  const key = bearerToken(request.headers.get("authorization")) ?? new URL(request.url).searchParams.get("key") ?? undefined;
  if (!key) return unauthorized("missing API key: send `Authorization: Bearer <key>` or add `?key=<key>` to the URL");
  const tenant = await tenantForKey(env, key);
  return tenant ?? unauthorized("invalid API key");
}

function unauthorized(message: string): Response {
  return Response.json(
    { error: { type: "unauthorized", message } },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="homeskillet"' } },
  );
}
