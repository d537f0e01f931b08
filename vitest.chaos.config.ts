import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { auxiliaryWorkers, TEST_KEYS } from "./test/support/workers.ts";

// Chaos tests inject faults into the emulators. They get emulators of their own (a project has
// its own auxiliary workers), run one file at a time, and use latencies long enough to interrupt
// an inference while it runs.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          HOSTEDAI_API_KEY: TEST_KEYS.hostedai,
          HOMESKILLET_DEV_KEY: TEST_KEYS.dev,
          HOMESKILLET_TENANT_KEYS: JSON.stringify(TEST_KEYS.tenants),
        },
        serviceBindings: { HOSTEDAI: "hostedai-emulator", LOCAL_NODE: "local-node-emulator" },
        workers: auxiliaryWorkers("0.2"),
      },
    }),
  ],
  test: {
    name: "chaos",
    include: ["test/chaos/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 90_000,
  },
});
