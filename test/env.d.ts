declare namespace Cloudflare {
  // The test pool's `env` is the gateway's env, with the emulators bound as services.
  interface Env extends Omit<import("../src/env").Env, "HOSTEDAI" | "LOCAL_NODE"> {
    HOSTEDAI: Fetcher;
    LOCAL_NODE: Fetcher;
  }
}
