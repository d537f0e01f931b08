export { HostedAiClient, type HostedAiConfig } from "./client";
export { isAllocationGone, isAuthRejected, isCapacityExhausted, PROVIDER as HOSTEDAI } from "./errors";
export * from "./mapping";
export * from "./assumptions";
