import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { LATENCY_SCALE: "0.01" } },
    }),
  ],
  test: {
    name: "hostedai-emulator",
    // One file at a time: its files share state (see the root vitest.config.ts).
    fileParallelism: false,
    // Property runs send a hundred requests; on a busy 2-core machine that can pass 5 s.
    testTimeout: 30_000,
    include: ["test/**/*.test.ts"],
  },
});
