import { covenantObjectName } from "../covenant";
import type { Env } from "../env";

export function covenantStub(env: Env, tenant: string, covenantId: string) {
  return env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName(tenant, covenantId)));
}

export function directoryStub(env: Env, tenant: string) {
  return env.TENANTS.get(env.TENANTS.idFromName(tenant));
}
