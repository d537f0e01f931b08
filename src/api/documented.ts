import type { OpenAPIHono } from "@hono/zod-openapi";

type OpenAPIRegistry = OpenAPIHono["openAPIRegistry"];
import { ErrorBody } from "../schema";

const error = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });

/**
 * Routes served by plain handlers (Prometheus text, the dashboard's data, MCP's own transports) are
 * described here, so the OpenAPI document lists every authenticated route: the security tests are
 * generated from it, and the auth middleware reads each route's credential from it.
 */
export function documentOperatorRoutes(registry: OpenAPIRegistry): void {
  const operator = [{ operator: [] }];
  registry.registerPath({
    method: "get",
    path: "/metrics",
    summary: "The deployment's metrics in Prometheus text format (operator key)",
    security: operator,
    responses: {
      200: { description: "Prometheus exposition format 0.0.4", content: { "text/plain": { schema: { type: "string" } } } },
      401: error("Missing or invalid operator key"),
      503: error("No operator key is configured, or a covenant object did not answer"),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/dashboard/api/summary",
    summary: "The operator dashboard's data (operator key)",
    security: operator,
    responses: { 200: { description: "Dashboard summary" }, 401: error("Missing or invalid operator key"), 503: error("No operator key is configured") },
  });
  for (const method of ["get", "post"] as const) {
    registry.registerPath({
      method,
      path: "/mcp",
      summary: method === "get" ? "MCP over a WebSocket (Upgrade: websocket); `?ticket=` from POST /mcp/ticket" : "MCP over Streamable HTTP (JSON-RPC)",
      description: "Any key opens a session; each tool needs the scope of what it does (strike, covenants:read, usage:read).",
      security: [{ bearer: [] }],
      responses: {
        [method === "get" ? 101 : 200]: { description: method === "get" ? "Switching protocols" : "JSON-RPC answer (or an SSE stream)" },
        401: error("Missing or invalid API key or ticket"),
        403: error("The tenant holds as many MCP sessions as its quota allows"),
      },
    });
  }
}
