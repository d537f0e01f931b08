import { createApp } from "./api";

export { CovenantObject, TenantDirectory } from "./covenant";
export { McpSession } from "./mcp";
export { MetricsIndex } from "./telemetry";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<import("./env").Env>;
