import { defineConfig } from "vitest/config";

// One project per worker: the gateway (test/), and each emulator (workers/*/vitest.config.ts).
export default defineConfig({
  test: {
    projects: ["vitest.gateway.config.ts", "workers/*/vitest.config.ts"],
  },
});
