import { defineConfig } from "vitest/config";

// One project per worker: the gateway (test/), and each emulator (workers/*/vitest.config.ts);
// plus "node": real clients against the whole system started locally (test/node/).
export default defineConfig({
  test: {
    projects: ["vitest.gateway.config.ts", "vitest.node.config.ts", "workers/*/vitest.config.ts"],
  },
});
