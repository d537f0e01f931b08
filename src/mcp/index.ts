// MCP at the edge: tools and resources over the tenant's covenants, served over a WebSocket
// held by a Durable Object (hibernatable) and over stateless Streamable HTTP; single-use
// tickets (one McpTickets object per tenant) open WebSockets without a key in the URL.
export { mcpRoutes } from "./routes";
export { McpSession } from "./session";
export { McpTickets } from "./tickets";
