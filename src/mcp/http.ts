import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { MAX_BODY_BYTES } from "../api/middleware";
import type { SessionContext } from "./context";
import { createMcpServer } from "./server";

/**
 * Streamable HTTP, stateless: every POST gets a fresh server and transport in whichever isolate
 * receives it, and its answer (with any progress notifications) streams back on that POST's own
 * SSE response. Nothing of MCP outlives a request on this transport, so no session id is issued
 * and no Durable Object is involved; long-lived sessions are what the WebSocket transport is for.
 */
export async function handleStreamableHttp(request: Request, ctx: SessionContext): Promise<Response> {
  const server = createMcpServer(ctx);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: MAX_BODY_BYTES });
  await server.connect(transport);
  return transport.handleRequest(request);
}

/**
 * GET without an upgrade would open a stream for server-initiated messages, and DELETE would end
 * a session: a stateless server has neither, which the spec lets it say with 405.
 */
export function methodNotAllowed(): Response {
  return Response.json(
    { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Method not allowed: POST JSON-RPC messages to /mcp, or GET it with `Upgrade: websocket`" } },
    { status: 405, headers: { allow: "GET, POST" } },
  );
}
