export { CovenantObject } from "./object";
export { covenantObjectName } from "./naming";
export type { FailureBody, Result, StrikeEvent, StrikeFailure, StrikeInput, StrikeOutcome, StrikeSuccess, WatchOptions } from "./types";
