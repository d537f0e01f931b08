// One local system for every Node-side test file: started once by vitest's global setup (see
// vitest.node.config.ts), handed to the tests with `inject("system")`.
import type { TestProject } from "vitest/node";
import { startSystem } from "../../bench/lib/system.ts";

export interface NodeTestSystem {
  gateway: string;
  keys: { dev: string; acme: string; globex: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    system: NodeTestSystem;
  }
}

const keys = { dev: "hsk_node_dev_0001", acme: "hsk_node_acme_0001", globex: "hsk_node_globex_0001" };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const system = await startSystem({
    mode: "miniflare",
    ports: { gateway: 0, hostedai: 0, localNode: 0 },
    persist: false,
    quiet: true,
    devKey: keys.dev,
    gatewayVars: { HOMESKILLET_TENANT_KEYS: JSON.stringify({ acme: keys.acme, globex: keys.globex }) },
  });
  project.provide("system", { gateway: system.gateway!, keys });
  return () => system.stop();
}
