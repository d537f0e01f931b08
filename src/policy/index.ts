// The pure core: every decision is a deterministic function of (state, event, clock), no I/O.
export * from "./models";
export * from "./pools";
export * from "./seed";
export * from "./backoff";
export * from "./contract";
export * from "./estimate";
export * from "./placement";
export * from "./leases";
export * from "./warm";
export * from "./budget";
export * from "./breaker";
export * from "./retry";
export * from "./targets";
export * from "./routing";
export * from "./limits";
export * from "./continuation";
export * from "./upstream-sampling";
