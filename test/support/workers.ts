// Node-side: how the test pool starts the emulators as auxiliary workers.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const TEST_KEYS = {
  hostedai: "test-hostedai-key",
  dev: "hsk_test_dev_key_0001",
  // globex is configured by hash, as production keys should be (sha256 of "hsk_test_globex_0001").
  tenants: { acme: "hsk_test_acme_0001", globex: "sha256:27d6ebb8990df282d6a2be412d2d4b7678564b1f03d25dc827653d847272526d" },
} as const;

/** Simulated latencies are scaled down so the suite stays fast; the model's shape is unchanged. */
export const EMULATOR_LATENCY_SCALE = "0.02";

export function auxiliaryWorkers(latencyScale: string = EMULATOR_LATENCY_SCALE) {
  return [
    {
      name: "hostedai-emulator",
      modules: true,
      scriptPath: `${root}.build/hostedai-emulator/index.js`,
      compatibilityDate: "2026-04-20",
      compatibilityFlags: ["nodejs_compat"],
      durableObjects: { CLUSTER: { className: "HostedAiCluster", useSQLite: true } },
      bindings: {
        HOSTEDAI_API_KEYS: TEST_KEYS.hostedai,
        JWT_SECRET: "test-jwt-secret-not-for-production",
        TOKEN_TTL_SECONDS: "3600",
        LATENCY_SCALE: latencyScale,
        TIME_SCALE: "1",
        SEED: "42",
      },
    },
    {
      name: "local-node-emulator",
      modules: true,
      scriptPath: `${root}.build/local-node-emulator/index.js`,
      compatibilityDate: "2026-04-20",
      compatibilityFlags: ["nodejs_compat"],
      durableObjects: { DEVICE: { className: "LocalDevice", useSQLite: true } },
      bindings: { MODELS: "gemma-2b-it,mistral-7b", LATENCY_SCALE: latencyScale, SEED: "7" },
    },
  ];
}

/**
 * The gateway under test, as the workers test pool runs it, with the emulators beside it. A
 * project's files share one pair of emulators and run in parallel whenever vitest has more than
 * one worker, so only a project whose files always run one at a time (`ownEmulators`: chaos) may
 * inject faults: elsewhere a fault set by one file could hit another's strikes
 * (test/support/faults.ts refuses).
 */
export function gatewayPoolOptions(latencyScale: string = EMULATOR_LATENCY_SCALE, { ownEmulators = false } = {}) {
  return {
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      bindings: {
        HOSTEDAI_API_KEY: TEST_KEYS.hostedai,
        HOMESKILLET_DEV_KEY: TEST_KEYS.dev,
        HOMESKILLET_TENANT_KEYS: JSON.stringify(TEST_KEYS.tenants),
        // A short key cache, so revocation's bound can be waited out in a test.
        HOMESKILLET_KEY_CACHE_S: "1",
        ...(ownEmulators && { TEST_FAULTS_ALLOWED: "1" }),
      },
      serviceBindings: { HOSTEDAI: "hostedai-emulator", LOCAL_NODE: "local-node-emulator" },
      workers: auxiliaryWorkers(latencyScale),
    },
  };
}
