import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { onConsoleLog } from "./test/support/console.ts";

// One project per worker: the gateway (test/), and each emulator (workers/*/vitest.config.ts);
// "chaos": the gateway under injected faults, with emulators of its own (test/chaos/);
// plus "node": real clients against the whole system started locally (test/node/).
export default defineConfig({
  test: {
    onConsoleLog,
    // The gateway's files mostly wait on workerd and the emulators, so two run side by side even
    // on two cores (vitest's default there is one): measured, the project took 229–300 s instead
    // of 370 s. Projects whose files share mutable state (the node project's one system, the
    // emulators' admin settings, chaos's faults) keep fileParallelism off and run one file at a time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: ["vitest.gateway.config.ts", "vitest.chaos.config.ts", "vitest.node.config.ts", "vitest.audit.config.ts", "workers/*/vitest.config.ts"],
  },
});
