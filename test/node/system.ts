// One local system for every Node-side test file: started once by vitest's global setup (see
// vitest.node.config.ts), handed to the tests with `inject("system")`.
import type { TestProject } from "vitest/node";
import { startSystem } from "../../bench/lib/system.ts";

export interface NodeTestSystem {
  gateway: string;
  /** The Hosted.AI emulator, for its admin endpoints (faults). */
  hostedai: string;
  /** `dashboard` is a tenant only the dashboard test uses, so its totals are that test's alone. */
  keys: { dev: string; acme: string; globex: string; dashboard: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    system: NodeTestSystem;
  }
}

const keys = { dev: "hsk_node_dev_0001", acme: "hsk_node_acme_0001", globex: "hsk_node_globex_0001", dashboard: "hsk_node_dashboard_0001" };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const system = await startSystem({
    mode: "miniflare",
    ports: { gateway: 0, hostedai: 0, localNode: 0 },
    persist: false,
    quiet: true,
    devKey: keys.dev,
    gatewayVars: { HOMESKILLET_TENANT_KEYS: JSON.stringify({ acme: keys.acme, globex: keys.globex, dashboard: keys.dashboard }) },
  });
  project.provide("system", { gateway: system.gateway!, hostedai: system.hostedai!, keys });
  return () => system.stop();
}
