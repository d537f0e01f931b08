import { bearerToken, principalFor, unauthorized, type Principal } from "../auth";
import type { Env } from "../env";
import { redeemTicket } from "./tickets";

/**
 * The tenant of an MCP request, from one of:
 * - `Authorization: Bearer <key>`, the way for every client that can set a header;
 * - `?ticket=<ticket>` on the WebSocket upgrade: a short-lived, single-use ticket from
 *   `POST /mcp/ticket`, the recommended way for clients that cannot set headers on a WebSocket
 *   (browsers, the SDK's WebSocket transport); refused on Streamable HTTP, whose clients can set
 *   headers and need a credential on every POST, which a single-use ticket cannot be;
 * - `?key=<key>`, which still works for those clients but leaves the long-lived key wherever the
 *   URL is recorded (proxy and CDN access logs, browser history).
 * Neither key nor ticket is ever logged: only the path reaches logs, and the URL handed on carries
 * no query. Error messages never repeat them.
 */
export async function mcpPrincipal(env: Env, request: Request, transport: "websocket" | "http"): Promise<Principal | Response> {
  const params = new URL(request.url).searchParams;
  const header = request.headers.get("authorization");
  const ticket = params.get("ticket");
  if (ticket !== null) {
    if (transport === "http") {
      return invalid(
        "`ticket` opens WebSocket sessions only; on Streamable HTTP send `Authorization: Bearer <key>` with every POST",
        "ticket",
      );
    }
    if (header !== null || params.has("key")) return invalid("send one credential: a `ticket`, or an API key, not both", "ticket");
    const redeemed = await redeemTicket(env, ticket);
    if (redeemed.ok) return redeemed.principal;
    return unauthorized(
      redeemed.reason === "malformed" ? "invalid ticket: use the `ticket` that POST /mcp/ticket returned, as it is" : "ticket already used or expired",
    );
  }
  const key = bearerToken(header) ?? params.get("key") ?? undefined;
  if (!key) {
    return unauthorized(
      transport === "websocket"
        ? "missing credentials: send `Authorization: Bearer <key>`, or add `?ticket=<ticket>` (from POST /mcp/ticket) or `?key=<key>` to the URL"
        : "missing API key: send `Authorization: Bearer <key>` or add `?key=<key>` to the URL",
    );
  }
  return principalFor(env, key);
}


function invalid(message: string, param: string): Response {
  return Response.json({ error: { type: "invalid_request", message, param } }, { status: 400 });
}
