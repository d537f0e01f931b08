// Where injected faults (error responses, streams cut mid-way, hung generations) will enter.
// The node consults this once per completion, before booking the device; today it never
// injects anything, so the node behaves as a healthy mlx_lm.server.

export interface FaultContext {
  route: "chat" | "text";
  model: string;
  stream: boolean;
}

/** What to do to one completion. New kinds of fault become new variants here. */
export type FaultPlan = { kind: "none" };

export const NO_FAULT: FaultPlan = { kind: "none" };

export function planFault(_context: FaultContext): FaultPlan {
  return NO_FAULT;
}
