// MCP at the edge: tools and resources over the tenant's covenants, served over a WebSocket
// held by a Durable Object (hibernatable) and over stateless Streamable HTTP.
export { mcpRoutes } from "./routes";
export { McpSession } from "./session";
