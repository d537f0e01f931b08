// A key's limits: the KeyLimiter Durable Object (one per limited key) and the edge's admission.
// The decisions themselves are the policy core's (src/policy/limits.ts).
export { KeyLimiter, keyLimiterName, type KeyLimiterStatus } from "./key-limiter";
export { admitForKey, renewKeyHold, revokeKeyLimits, settleKeyHold, type KeyAdmission } from "./edge";
