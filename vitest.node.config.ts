import { defineConfig } from "vitest/config";

// Node-side tests: real clients (the official SDKs, the MCP conformance suite) against the whole
// system started locally by scripts/system.mjs, the way a user's tools would reach it.
export default defineConfig({
  test: {
    name: "node",
    // One file at a time: its files share state (see the root vitest.config.ts).
    fileParallelism: false,
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/node/system.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
