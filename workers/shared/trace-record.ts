// The W3C `traceparent` each API request arrived with, so tests can check that a gateway
// propagates its traces upstream. Kept in this isolate's memory (each emulator runs in one):
// the most recent requests only, and never anything but method, path and the header.
import type { MiddlewareHandler } from "hono";

export interface TracedRequest {
  method: string;
  path: string;
  traceparent: string | null;
  at: string;
}

const KEEP = 512;
const seen: TracedRequest[] = [];

export const recordTraceparent: MiddlewareHandler = async (c, next) => {
  seen.push({ method: c.req.method, path: new URL(c.req.url).pathname, traceparent: c.req.header("traceparent") ?? null, at: new Date().toISOString() });
  if (seen.length > KEEP) seen.splice(0, seen.length - KEEP);
  await next();
};

/** Oldest first. */
export function tracedRequests(): TracedRequest[] {
  return [...seen];
}
