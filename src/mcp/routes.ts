import { configuredPrincipal } from "../auth";
import { newRouter } from "../api/app-types";
import type { Env } from "../env";
import { mcpTenant } from "./auth";
import { handleStreamableHttp, methodNotAllowed } from "./http";
import { MCP_SUBPROTOCOL, TENANT_HEADER } from "./session";
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
    if (request.method !== "POST" && !upgrade) return methodNotAllowed();
    if (!upgrade) {
      const tenant = await mcpTenant(c.env, request, "http");
      return tenant instanceof Response ? tenant : handleStreamableHttp(request, { env: c.env, tenant, principal: configuredPrincipal(tenant) });
    }
    // Refused before authenticating, so a bad offer never uses up a ticket.
    const offered = request.headers.get("sec-websocket-protocol");
    if (offered && !offered.split(",").some((p) => p.trim() === MCP_SUBPROTOCOL)) {
      return Response.json(
        { error: { type: "invalid_request", message: `unsupported WebSocket subprotocol; offer \`${MCP_SUBPROTOCOL}\` or none`, param: "sec-websocket-protocol" } },
        { status: 400 },
      );
    }
    const tenant = await mcpTenant(c.env, request, "websocket");
    return tenant instanceof Response ? tenant : openWebSocketSession(c.env, offered, tenant);
  });

function openWebSocketSession(env: Env, offered: string | null, tenant: string): Promise<Response> {
  // A fresh object per session. Only what the session needs is handed on: never the key or ticket.
  const headers = new Headers({ upgrade: "websocket", [TENANT_HEADER]: tenant });
  if (offered) headers.set("sec-websocket-protocol", MCP_SUBPROTOCOL);
  const stub = env.MCP_SESSION.get(env.MCP_SESSION.newUniqueId());
  return stub.fetch("https://mcp-session.internal/", { headers });
}
