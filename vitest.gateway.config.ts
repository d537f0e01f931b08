import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { gatewayPoolOptions } from "./test/support/workers.ts";

// The gateway runs in workerd as the main worker; the emulators run beside it as real
// auxiliary workers, reached through service bindings exactly as a deployment could.
export default defineConfig({
  plugins: [
    cloudflareTest(gatewayPoolOptions()),
  ],
  test: {
    name: "gateway",
    include: ["test/**/*.test.ts"],
    exclude: ["test/node/**", "test/chaos/**", "test/audit/**"],
    testTimeout: 60_000,
  },
});
