import { recordOf, unauthorized, type Principal } from "../auth";
import { newRouter } from "../api/app-types";
import type { Env } from "../env";
import { mcpPrincipal } from "./auth";
import { handleStreamableHttp, methodNotAllowed } from "./http";
import { MCP_SUBPROTOCOL, PRINCIPAL_HEADER } from "./session";
import { mcpTicketRoutes } from "./ticket-route";

/**
 * `/mcp`: MCP over a WebSocket (GET with Upgrade, held by an McpSession object) or Streamable HTTP
 * (POST); and `POST /mcp/ticket`, the single-use tickets that open a WebSocket without a key in the URL.
 */
export const mcpRoutes = newRouter()
  .route("/", mcpTicketRoutes)
  .all("/mcp", async (c) => {
    const request = c.req.raw;
    const upgrade = request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (request.method !== "POST" && !upgrade) {
      // Credentials are checked before the method, as on every other route: no key, no hints.
      const credentials = request.headers.has("authorization") || new URL(request.url).searchParams.has("key") || new URL(request.url).searchParams.has("ticket");
      return credentials ? methodNotAllowed() : unauthorized("missing API key: send `Authorization: Bearer <key>`");
    }
    if (!upgrade) {
      const principal = await mcpPrincipal(c.env, request, "http");
      return principal instanceof Response ? principal : handleStreamableHttp(request, { env: c.env, tenant: principal.tenant, principal });
    }
    // Refused before authenticating, so a bad offer never uses up a ticket.
    const offered = request.headers.get("sec-websocket-protocol");
    if (offered && !offered.split(",").some((p) => p.trim() === MCP_SUBPROTOCOL)) {
      return Response.json(
        { error: { type: "invalid_request", message: `unsupported WebSocket subprotocol; offer \`${MCP_SUBPROTOCOL}\` or none`, param: "sec-websocket-protocol" } },
        { status: 400 },
      );
    }
    const principal = await mcpPrincipal(c.env, request, "websocket");
    return principal instanceof Response ? principal : openWebSocketSession(c.env, offered, principal);
  });

async function openWebSocketSession(env: Env, offered: string | null, principal: Principal): Promise<Response> {
  // A fresh object per session, counted against the tenant's session quota (the object gives the
  // count back when its socket closes). Only what the session needs is handed on: never the key or ticket.
  const id = env.MCP_SESSION.newUniqueId();
  const counted = await env.TENANTS.getByName(principal.tenant).openMcpSession(id.toString());
  if (!counted.ok) {
    const { ok: _ok, status, ...error } = counted;
    return Response.json({ error }, { status });
  }
  const headers = new Headers({ upgrade: "websocket", [PRINCIPAL_HEADER]: JSON.stringify(recordOf(principal)) });
  if (offered) headers.set("sec-websocket-protocol", MCP_SUBPROTOCOL);
  return env.MCP_SESSION.get(id).fetch("https://mcp-session.internal/", { headers });
}
