// Tenant-scoped access to covenants for the tools and resources. Every covenant object is named
// `<tenant>:<id>`, and the tenant here is always the authenticated one, so no argument can name
// another tenant's covenant.
import { covenantIdsOf, covenantStub } from "../api/stubs";
import { mayUseCovenant } from "../auth";
import { findLimit } from "../concurrency";
import type { CovenantStatus } from "../schema";
import type { SessionContext } from "./context";

export type Found<T> = { ok: true; value: T } | { ok: false; error: { type: string; message: string; param?: string } };

/** A key narrowed to some covenants finds the others as if they did not exist. */
export function notVisible(ctx: SessionContext, covenantId: string): Found<never> | undefined {
  return mayUseCovenant(ctx.principal, covenantId) ? undefined : { ok: false, error: { type: "covenant_not_found", message: `no covenant ${covenantId}` } };
}

export async function covenantStatus(ctx: SessionContext, covenantId: string): Promise<Found<CovenantStatus>> {
  return notVisible(ctx, covenantId) ?? covenantStub(ctx.env, ctx.tenant, covenantId).status(ctx.tenant, covenantId);
}

/** The tenant's covenant ids this key may use; `default` always exists. */
export async function covenantIds(ctx: SessionContext): Promise<string[]> {
  return (await covenantIdsOf(ctx.env, ctx.tenant)).filter((id) => mayUseCovenant(ctx.principal, id));
}

export interface HeldAllocation {
  covenantId: string;
  lease: CovenantStatus["leases"][number];
}

/** Covenants asked at once when a tool searches all of a tenant's covenants. */
export const COVENANT_FAN_OUT = 8;

/**
 * The lease through which one of the tenant's covenants holds `allocationId`, or undefined.
 * Asked of the covenants themselves, so an allocation id seen elsewhere opens nothing; at most
 * COVENANT_FAN_OUT at a time, stopping once found, so a tenant with many covenants costs one
 * search a bounded number of calls in flight.
 */
export async function findHeldAllocation(ctx: SessionContext, allocationId: string, covenantId?: string): Promise<HeldAllocation | undefined> {
  const ids = covenantId === undefined ? await covenantIds(ctx) : [covenantId];
  return findLimit(ids, COVENANT_FAN_OUT, async (id) => {
    const status = await covenantStatus(ctx, id);
    const lease = status.ok ? status.value.leases.find((l) => l.allocation_id === allocationId) : undefined;
    return lease ? { covenantId: id, lease } : undefined;
  });
}
