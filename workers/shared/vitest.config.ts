import { defineConfig } from "vitest/config";

// The emulators' shared modules that are pure (JSON Schema instances, the tool-answer policy, JSON
// text). They run in Node rather than workerd so their generated values can be checked with Ajv,
// an independent validator whose code generation (new Function) workerd refuses.
export default defineConfig({
  test: {
    name: "emulator-shared",
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
