import { Hono } from "hono";
import type { Env } from "../env";
import { mcpTenant } from "./auth";
import { handleStreamableHttp, methodNotAllowed } from "./http";
import { MCP_SUBPROTOCOL, TENANT_HEADER } from "./session";

/** `/mcp`: MCP over a WebSocket (GET with Upgrade, held by an McpSession object) or Streamable HTTP (POST). */
export const mcpRoutes = new Hono<{ Bindings: Env }>().all("/mcp", async (c) => {
  const request = c.req.raw;
  const upgrade = request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket";
  if (request.method !== "POST" && !upgrade) return methodNotAllowed();
  const tenant = await mcpTenant(c.env, request);
  if (tenant instanceof Response) return tenant;
  return upgrade ? openWebSocketSession(c.env, request, tenant) : handleStreamableHttp(request, { env: c.env, tenant });
});

function openWebSocketSession(env: Env, request: Request, tenant: string): Promise<Response> | Response {
  const offered = request.headers.get("sec-websocket-protocol");
  if (offered && !offered.split(",").some((p) => p.trim() === MCP_SUBPROTOCOL)) {
    return Response.json(
      { error: { type: "invalid_request", message: `unsupported WebSocket subprotocol; offer \`${MCP_SUBPROTOCOL}\` or none`, param: "sec-websocket-protocol" } },
      { status: 400 },
    );
  }
  // A fresh object per session. Only what the session needs is handed on: never the key.
  const headers = new Headers({ upgrade: "websocket", [TENANT_HEADER]: tenant });
  if (offered) headers.set("sec-websocket-protocol", MCP_SUBPROTOCOL);
  const stub = env.MCP_SESSION.get(env.MCP_SESSION.newUniqueId());
  return stub.fetch("https://mcp-session.internal/", { headers });
}
