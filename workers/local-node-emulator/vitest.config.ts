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
    // One file at a time: its files share state (see the root vitest.config.ts).
    fileParallelism: false,
    // Property runs send a hundred requests; on a busy 2-core machine that can pass 5 s.
    testTimeout: 30_000,
    include: ["test/**/*.test.ts"],
  },
});
