import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { CovenantId } from "../schema";
import { covenantIds, covenantStatus } from "./covenants";
import type { SessionContext } from "./context";
import { RESOURCE_SCOPE } from "./scopes";

/** The spec's code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;

/** Covenants as resources: `covenant://{id}`, listed and read for the session's tenant only. */
export function registerCovenantResources(server: McpServer, ctx: SessionContext): void {
  server.registerResource(
    "covenant",
    new ResourceTemplate("covenant://{id}", {
      list: async () => ({
        resources: (ctx.principal.scopes.has(RESOURCE_SCOPE) ? await covenantIds(ctx) : []).map((id) => ({
          uri: `covenant://${id}`,
          name: id,
          title: `Covenant ${id}`,
          description: `Contract, live leases and spend of covenant ${id}`,
          mimeType: "application/json",
        })),
      }),
    }),
    { title: "Covenant", description: "A covenant's contract with its live leases, queue depth and spend today", mimeType: "application/json" },
    async (uri, { id }) => {
      const parsed = CovenantId.safeParse(id);
      const status = parsed.success && ctx.principal.scopes.has(RESOURCE_SCOPE) ? await covenantStatus(ctx, parsed.data) : undefined;
      if (!status?.ok) throw new McpError(RESOURCE_NOT_FOUND, `Resource not found: ${uri.href}`, { uri: uri.href });
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(status.value, null, 2) }] };
    },
  );
}
