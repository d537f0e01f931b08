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
    include: ["test/**/*.test.ts"],
  },
});
