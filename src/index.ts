import { createApp } from "./api";

export { TenantDirectory, TenantRegistry } from "./tenancy";
// The covenant object with its spans (src/telemetry/traced-covenant.ts), bound as CovenantObject.
export { TracedCovenantObject as CovenantObject } from "./telemetry/traced-covenant";
export { McpSession, McpTickets } from "./mcp";
export { MetricsIndex } from "./telemetry";
export { KeyLimiter } from "./limits";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<import("./env").Env>;
