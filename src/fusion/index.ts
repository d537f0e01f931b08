// Fusion: fragment plans, fragment identity, caches and single-flight, plan pricing, the
// executor a covenant object calls, and the fusers. Pure except for crypto.subtle digests.
export { draftPlan, planFusion, sealPlan } from "./plan";
export { executePlan, type FusionOutcome } from "./execute";
export type { ExecuteDeps, FragmentResult, FragmentSuccess, FusionCaches } from "./run";
export { planView } from "./report";
export { resolveFusionPolicy, estimatorFromPrices, type ResolvedFusionPolicy } from "./policy";
export { ResultCache, type ResultStore } from "./cache";
export { SingleFlight } from "./single-flight";
export { SemanticCache, minhash, mostSimilar, similarity, SEMANTIC_MAX_CHARS, type SemanticStore } from "./semantic";
export { identify, fingerprintOf, sha256Hex, tenantKey, type FragmentIdentity, type IdentityParts } from "./identity";
export { normaliseInput, canonicalJson, looseForm } from "./normalise";
export { findSubTasks, mightHaveSubTasks, type SubTasks } from "./detect";
export { chunkDocument, separateInstruction, type Chunk, type Span } from "./chunk";
export { concatWithHeadings, majorityVote, normaliseAnswer, missingPartsNote, titleOf } from "./fuse";
export { mapPrompt, reducePrompt, judgePrompt, NOTHING_RELEVANT } from "./prompts";
export { isMultipleChoice } from "./plan-ensemble";
export { requestText, estimateTokens, type FusionRequest } from "./request";
export type { CostEstimator, CostQuery, DraftFragment, DraftPlan, Fragment, FuseStep, FusionPlan, PlanContext, PlanError, PlanResult } from "./types";
