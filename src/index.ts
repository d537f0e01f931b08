import { createApp } from "./api";

export { CovenantObject, TenantDirectory } from "./covenant";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<import("./env").Env>;
