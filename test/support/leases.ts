import type { Lease } from "../../src/policy";

/** A mistral-7b lease on the standard pool, a minute old and idle since a second before `now`. */
export function leaseAt(now: number, over: Partial<Lease> = {}): Lease {
  return {
    leaseId: "l1",
    allocationId: "a1",
    poolId: "standard-us-east",
    model: "mistral-7b",
    vramMb: 6144,
    tflops: 10,
    pricePerHour: 0.14,
    preemptible: true,
    createdAt: now - 60_000,
    expiresAt: now + 600_000,
    state: "active",
    inFlight: 0,
    strikesServed: 0,
    busyMs: 0,
    busySince: null,
    lastUsedAt: now - 1000,
    ...over,
  };
}
