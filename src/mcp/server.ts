import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js";
import { VERSION } from "../version";
import type { SessionContext } from "./context";
import { guardTools } from "./scopes";
import { registerCovenantResources } from "./resources";
import { registerCatalogue } from "./tools/catalogue";
import { registerCovenantTools } from "./tools/covenants";
import { registerStrike } from "./tools/strike";

const INSTRUCTIONS =
  "Homeskillet runs AI inference on virtualised GPUs under covenants (per-tenant contracts: models, " +
  "resources, QoS, cost limits). Use `strike` to run a prompt, `list_models` and `list_pools` to see " +
  "what can run where, `covenant_status` and `usage` to see leases and spend. Covenants are also " +
  "resources at covenant://{id}.";

/** The SDK builds a JSON Schema validator per server unless given one; one per isolate does. */
const validator = new AjvJsonSchemaValidator();

/**
 * One MCP server for one session of one tenant. Cheap to build (registration only), so each
 * transport builds its own: per HTTP request, and per WebSocket after every wake from hibernation.
 */
export function createMcpServer(ctx: SessionContext): McpServer {
  const server = guardTools(new McpServer({ name: "homeskillet", title: "Homeskillet", version: VERSION }, { instructions: INSTRUCTIONS, jsonSchemaValidator: validator }), ctx);
  registerStrike(server, ctx);
  registerCatalogue(server, ctx);
  registerCovenantTools(server, ctx);
  registerCovenantResources(server, ctx);
  return server;
}
