import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth";
import type { Env } from "../env";

/** What every tool and resource runs with: the worker's bindings, the authenticated tenant and key. */
export interface SessionContext {
  env: Env;
  tenant: string;
  principal: Principal;
}

/**
 * A successful tool result: the value as structured content (checked against the tool's output
 * schema by the SDK) and as JSON text for clients that only read text content.
 */
export function jsonResult<T extends object>(value: T): CallToolResult & { structuredContent: T } {
  return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }], structuredContent: value as T & Record<string, unknown> };
}

/**
 * A tool error the model can read and act on: `type: message` first, then the whole error in the
 * HTTP API's shape (`{"error": {...}}`) with its details (the field, a budget, when to retry).
 */
export function toolError<E extends { type: string; message: string }>(error: E): CallToolResult {
  return { content: [{ type: "text", text: `${error.type}: ${error.message}\n${JSON.stringify({ error })}` }], isError: true };
}
