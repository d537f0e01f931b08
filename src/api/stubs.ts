import { covenantObjectName } from "../covenant";
import type { Env } from "../env";
import { DEFAULT_COVENANT_ID } from "../policy";

export function covenantStub(env: Env, tenant: string, covenantId: string) {
  return env.COVENANT.get(env.COVENANT.idFromName(covenantObjectName(tenant, covenantId)));
}

export function directoryStub(env: Env, tenant: string) {
  return env.TENANTS.get(env.TENANTS.idFromName(tenant));
}

/** A tenant's covenant ids, as its directory lists them; `default` always exists. */
export async function covenantIdsOf(env: Env, tenant: string): Promise<string[]> {
  const listed = (await directoryStub(env, tenant).list()).map((c) => c.id);
  return listed.includes(DEFAULT_COVENANT_ID) ? listed : [DEFAULT_COVENANT_ID, ...listed];
}
