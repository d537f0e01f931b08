import { createRoute, z } from "@hono/zod-openapi";
import { limitBody, optionalJson } from "../api/middleware";
import { newRouter } from "../api/app-types";
import { ErrorBody } from "../schema";
import { issueTicket, MAX_OUTSTANDING_TICKETS, TICKET_TTL_DEFAULT_S, TICKET_TTL_MAX_S } from "./tickets";

export const McpTicketRequest = z
  .object({
    ttl_s: z
      .number()
      .int()
      .min(1)
      .max(TICKET_TTL_MAX_S)
      .optional()
      .openapi({ description: `Seconds the ticket stays valid (default ${TICKET_TTL_DEFAULT_S}).`, example: TICKET_TTL_DEFAULT_S }),
  })
  .strict()
  .openapi("McpTicketRequest");

export const McpTicket = z
  .object({
    ticket: z.string().openapi({ description: "Single use: open the WebSocket at `/mcp?ticket=<ticket>`.", example: "hsmt_YWNtZQ.…" }),
    expires_at: z.string().openapi({ description: "When the ticket stops working, if it has not been used (ISO 8601)." }),
    url_hint: z.string().optional().openapi({ description: "The WebSocket URL with the ticket, as this request reached the gateway (a proxy may change the host)." }),
  })
  .openapi("McpTicket");

const errorContent = { "application/json": { schema: ErrorBody } };
export const mcpTicketRoute = createRoute({
  method: "post",
  path: "/mcp/ticket",
  summary: "A single-use ticket to open an MCP WebSocket at /mcp?ticket=… without the API key in the URL",
  description:
    `For clients that cannot set headers on a WebSocket. The ticket works once, for the tenant of the key that asked for it, ` +
    `for ttl_s seconds (default ${TICKET_TTL_DEFAULT_S}, at most ${TICKET_TTL_MAX_S}). Streamable HTTP (POST /mcp) takes no tickets.`,
  security: [{ bearer: [] }],
  middleware: [limitBody, optionalJson] as const,
  request: { body: { required: false, content: { "application/json": { schema: McpTicketRequest } } } },
  responses: {
    201: { description: "The ticket", content: { "application/json": { schema: McpTicket } } },
    400: { description: "Invalid request (the error names the field)", content: errorContent },
    401: { description: "Missing or invalid API key", content: errorContent },
    403: { description: "The tenant holds as many MCP sessions as its quota allows", content: errorContent },
    413: { description: "Body too large", content: errorContent },
    415: { description: "A body that is not JSON", content: errorContent },
    429: { description: "The tenant holds as many unused tickets as it may; retry after the Retry-After seconds", content: errorContent },
  },
});

/** The WebSocket URL of a ticket at the origin this request came to. */
function urlHint(requestUrl: string, ticket: string): string {
  const url = new URL("/mcp", requestUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", ticket);
  return url.toString();
}

/** `POST /mcp/ticket`: authenticated by the API's own middleware, with the header only, never `?key=`. */
export const mcpTicketRoutes = newRouter().openapi(mcpTicketRoute, async (c) => {
  const ttlS = c.req.valid("json").ttl_s ?? TICKET_TTL_DEFAULT_S;
  const issued = await issueTicket(c.env, c.get("principal"), ttlS);
  if (!issued.ok) {
    const retryAfter = String(Math.max(1, Math.ceil(issued.retryAfterMs / 1000)));
    return c.json(
      {
        error: {
          type: "too_many_tickets",
          message: `this tenant holds ${MAX_OUTSTANDING_TICKETS} unused tickets; use or let some expire (retry after ${retryAfter} s)`,
        },
      },
      429,
      { "retry-after": retryAfter },
    );
  }
  const body = { ticket: issued.ticket, expires_at: new Date(issued.expiresAt).toISOString(), url_hint: urlHint(c.req.url, issued.ticket) };
  // A secret: no cache along the way may keep it.
  return c.json(body, 201, { "cache-control": "no-store" });
});
