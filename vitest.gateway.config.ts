import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { auxiliaryWorkers, TEST_KEYS } from "./test/support/workers.ts";

// The gateway runs in workerd as the main worker; the emulators run beside it as real
// auxiliary workers, reached through service bindings exactly as a deployment could.
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
        workers: auxiliaryWorkers(),
      },
    }),
  ],
  test: {
    name: "gateway",
    include: ["test/**/*.test.ts"],
    exclude: ["test/node/**", "test/chaos/**"],
    testTimeout: 60_000,
  },
});
