import { defineConfig } from "vitest/config";
import { onConsoleLog } from "./test/support/console.ts";

// One project per worker: the gateway (test/), and each emulator (workers/*/vitest.config.ts);
// "chaos": the gateway under injected faults, with emulators of its own (test/chaos/);
// plus "node": real clients against the whole system started locally (test/node/).
export default defineConfig({
  test: {
    onConsoleLog,
    projects: ["vitest.gateway.config.ts", "vitest.chaos.config.ts", "vitest.node.config.ts", "vitest.audit.config.ts", "workers/*/vitest.config.ts"],
  },
});
