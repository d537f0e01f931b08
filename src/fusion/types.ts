// The plan as data: plain JSON values only, so it crosses Durable Object RPC, is stored or
// logged as is, and is returned (without its texts) with the answer.
import type { ModelCatalogue } from "../policy";
import type { Classification, CovenantContract, FragmentRole, FusionStrategy, TaskLabel } from "../schema";
import type { Span } from "./chunk";
import type { ResolvedFusionPolicy } from "./policy";

/** A fragment before its identity is computed. */
export interface DraftFragment {
  id: string;
  role: FragmentRole;
  /** The heading its answer gets in a concatenation, and its name in reports. */
  title: string;
  model: string;
  label: TaskLabel | null;
  system: string | null;
  /** The fragment's own content: what its fingerprint covers. */
  input: string;
  /** The exact text its strike sends. */
  prompt: string;
  prompt_tokens: number;
  max_tokens: number;
  temperature: number;
  span: Span | null;
  estimate_usd: number | null;
}

export interface Fragment extends DraftFragment {
  hash: string;
  fingerprint: string;
  /** Digest of model + system + tools + sampling: what the semantic cache must match exactly. */
  scope: string;
}

/** The step after the leaf fragments, which needs their results. */
export type FuseStep =
  | { kind: "none" }
  | { kind: "concat" }
  | { kind: "vote"; order: string[] }
  | { kind: "reduce" | "judge"; model: string; max_tokens: number; temperature: number; task: string; prompt_tokens: number; estimate_usd: number | null };

export interface PlanShared {
  system: string | null;
  /** Chat requests send `user: …` turns (see requestText). */
  tagged: boolean;
  sampling: Readonly<Record<string, unknown>> | null;
  tools: readonly unknown[] | null;
}

export interface FusionPlan<F extends DraftFragment = Fragment> {
  strategy: FusionStrategy;
  requested: "auto" | FusionStrategy;
  reason: string;
  fragments: F[];
  fuse: FuseStep;
  tolerate_gaps: boolean;
  concurrency: number;
  price_usd: number | null;
  limit_usd: number | null;
  reductions: string[];
  shared: PlanShared;
  /** results: read and fill the result cache; flights: join identical fragments in flight. */
  cache: { results: boolean; flights: boolean; ttl_ms: number; semantic_threshold: number | null };
}

export type DraftPlan = FusionPlan<DraftFragment>;

export interface CostQuery {
  model: string;
  prompt_tokens: number;
  max_tokens: number;
}

/** Upper estimate, in dollars, of one strike; pure and synchronous (prices are looked up beforehand). */
export type CostEstimator = (q: CostQuery) => number;

export interface PlanContext {
  covenant: CovenantContract;
  policy: ResolvedFusionPolicy;
  catalogue: ModelCatalogue;
  /** Request analysis of one fragment's text (the WASM classifier at the edge). */
  classify: (text: string) => Classification;
  /** The model a request of this classification goes to under the covenant (one of its models). */
  route: (classification: Classification) => string;
  estimate: CostEstimator;
}

export interface PlanError {
  type: string;
  message: string;
  param?: string;
  budget?: "max_usd_per_strike";
  limit_usd?: number;
  requested_usd?: number;
}

export type PlanResult<P = FusionPlan> = { ok: true; plan: P } | { ok: false; status: 400 | 402 | 413; error: PlanError };
