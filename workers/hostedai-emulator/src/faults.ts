// The seam where injected faults enter: every endpoint asks `faultFor` before doing its work.
// The configuration is empty, so nothing is injected; fault rules (error rates per pool and
// endpoint, added latency, 429s, pool outages, early token expiry, partitions, preemption)
// extend `FaultConfig` and the matching in `faultFor` without touching the routes.
import type { ApiError } from "./errors";

export type Endpoint =
  | "auth.token"
  | "pools.list"
  | "allocations.create"
  | "allocations.list"
  | "allocations.get"
  | "allocations.metrics"
  | "allocations.release"
  | "inference";

export interface FaultContext {
  readonly endpoint: Endpoint;
  readonly poolId?: string;
  readonly allocationId?: string;
}

export interface InjectedFault {
  /** Delay added before the endpoint answers, in real ms. */
  readonly extraLatencyMs: number;
  /** When present, the endpoint answers with this error instead of doing its work. */
  readonly error?: ApiError;
}

export interface FaultConfig {
  readonly rules: readonly never[];
}

export const NO_FAULTS: FaultConfig = { rules: [] };

/** The fault to inject for this call, if any rule of the configuration matches it. */
export function faultFor(_config: FaultConfig, _context: FaultContext): InjectedFault | undefined {
  // No rule kinds exist yet, so no configuration can match.
  return undefined;
}
