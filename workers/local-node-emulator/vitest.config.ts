import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      // Tests run the device at 1/100 of real time; individual tests raise or zero it through
      // POST /admin/config when they need a stream that visibly spans time, or none at all.
      miniflare: { bindings: { LATENCY_SCALE: "0.01" } },
    }),
  ],
  test: {
    name: "local-node-emulator",
    include: ["test/**/*.test.ts"],
  },
});
