import { leaseUtilization } from "../policy";
import type { LeaseView } from "../schema";
import type { z } from "@hono/zod-openapi";
import type { StoredLease } from "./storage";

export function leaseView(l: StoredLease, now: number): z.infer<typeof LeaseView> {
  return {
    lease_id: l.leaseId,
    allocation_id: l.allocationId,
    pool_id: l.poolId,
    model: l.model,
    state: l.state === "draining" ? "draining" : l.inFlight > 0 ? "busy" : "warm",
    in_flight: l.inFlight,
    strikes_served: l.strikesServed,
    utilization: Number(leaseUtilization(l, now).toFixed(4)),
    expires_at: new Date(l.expiresAt).toISOString(),
    idle_since: l.inFlight > 0 ? null : new Date(l.lastUsedAt).toISOString(),
  };
}
