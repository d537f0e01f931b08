import { UpstreamError } from "../errors";

export const PROVIDER = "hostedai";

// These read the connector's canonical errors: assumptions.ts (hostedAiErrorFrom) maps whatever
// Hosted.AI answers onto them.

/** The pool is full right now; another pool, or the same one a little later, may have room. */
export function isCapacityExhausted(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && err.provider === PROVIDER && err.status === 503 && err.type === "capacity_exhausted";
}

/** Our JWT was refused: fetch a new one and try once more. */
export function isAuthRejected(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && err.provider === PROVIDER && err.status === 401;
}

/** The allocation is gone upstream (expired, released, preempted, unknown): never use it again. */
export function isAllocationGone(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && err.provider === PROVIDER && [404, 409, 410].includes(err.status);
}
