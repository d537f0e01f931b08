import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Scope } from "../schema/tenancy";
import { toolError, type SessionContext } from "./context";

/**
 * The scope each tool needs, as the HTTP routes they mirror need it. A tool missing here needs
 * none (the catalogue of models and pools); a tool registered without an entry fails loudly at
 * registration, so a new tool cannot slip in unguarded.
 */
export const TOOL_SCOPES: Readonly<Record<string, Scope | null>> = {
  strike: "strike",
  classify: "strike",
  list_models: null,
  list_pools: null,
  covenant_status: "covenants:read",
  allocation_metrics: "covenants:read",
  usage: "usage:read",
};

/** Covenant resources are covenant status: `covenants:read`. */
export const RESOURCE_SCOPE: Scope = "covenants:read";

/**
 * Wraps `registerTool` so that every tool first checks the session key's scope: a key without it
 * gets a tool error naming the scope, as the HTTP API answers 403.
 */
export function guardTools(server: McpServer, ctx: SessionContext): McpServer {
  const register = server.registerTool.bind(server) as (name: string, config: unknown, handler: (...args: unknown[]) => unknown) => unknown;
  (server as unknown as { registerTool: typeof register }).registerTool = (name, config, handler) => {
    if (!(name in TOOL_SCOPES)) throw new Error(`MCP tool ${name} has no entry in TOOL_SCOPES`);
    const scope = TOOL_SCOPES[name];
    return register(name, config, (...args: unknown[]) =>
      scope && !ctx.principal.scopes.has(scope)
        ? toolError({ type: "insufficient_scope", message: `this key lacks the scope ${scope} that the ${name} tool needs`, required_scopes: [scope] })
        : handler(...args),
    );
  };
  return server;
}
