import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { gatewayPoolOptions } from "./test/support/workers.ts";

// Chaos tests inject faults into the emulators. They get emulators of their own (a project has
// its own auxiliary workers), run one file at a time, and use latencies long enough to interrupt
// an inference while it runs.
export default defineConfig({
  plugins: [
    cloudflareTest(gatewayPoolOptions("0.2", { ownEmulators: true })),
  ],
  test: {
    name: "chaos",
    include: ["test/chaos/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 90_000,
  },
});
