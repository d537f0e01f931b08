import { defineConfig } from "vitest/config";

// The source audit: runs in Node, not in workerd — it parses src/ with the TypeScript compiler and
// checks every regular expression with recheck (test/audit/). recheck's pure-JavaScript backend
// gives the same answers on every machine (the "auto" default picks a JVM or a native binary when
// one happens to be installed); the test pins its seed and step limits as well.
export default defineConfig({
  test: {
    name: "audit",
    include: ["test/audit/**/*.test.ts"],
    environment: "node",
    env: { RECHECK_BACKEND: "pure" },
    testTimeout: 600_000,
  },
});
