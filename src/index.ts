import { createApp } from "./api";

export { CovenantObject } from "./covenant";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<import("./env").Env>;
