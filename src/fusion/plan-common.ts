// What every plan builder shares: the models a covenant allows, ordered by size, and pricing.
import type { ModelSpec } from "../policy";
import type { DraftFragment, FuseStep, PlanContext, PlanError } from "./types";

/** What a builder hands back: the leaf fragments, the fuse step, and what it cut to fit the budget. */
export interface Built {
  fragments: DraftFragment[];
  fuse: FuseStep;
  reason: string;
  reductions: string[];
}

export type BuildResult = { ok: true; built: Built } | { ok: false; status: 400 | 402 | 413; error: PlanError };

/** The covenant's models that the catalogue knows, smallest first (ties by id: deterministic). */
export function allowedModels(ctx: PlanContext): ModelSpec[] {
  return ctx.covenant.models
    .map((id) => ctx.catalogue.get(id))
    .filter((m): m is ModelSpec => m !== undefined)
    .sort((a, b) => a.paramsB - b.paramsB || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export function specOf(ctx: PlanContext, id: string): ModelSpec {
  const spec = ctx.catalogue.get(id);
  if (!spec) throw new Error(`model ${JSON.stringify(id)} is not in the catalogue`);
  return spec;
}

/** A model the client or the covenant's policy named must be one the covenant allows. */
export function checkModel(ctx: PlanContext, id: string, param: string): PlanError | null {
  if (ctx.catalogue.has(id) && ctx.covenant.models.includes(id)) return null;
  return { type: "model_not_allowed", param, message: `model ${JSON.stringify(id)} is not among the covenant's models (${ctx.covenant.models.join(", ")})` };
}

/** The model itself when `prompt + output` fits its context; otherwise the smallest allowed model it fits. */
export function fitContext(ctx: PlanContext, model: string, promptTokens: number, maxTokens: number): string | null {
  if (specOf(ctx, model).contextTokens >= promptTokens + maxTokens) return model;
  return allowedModels(ctx).find((m) => m.contextTokens >= promptTokens + maxTokens)?.id ?? null;
}

export function fragmentCost(ctx: PlanContext, f: Pick<DraftFragment, "model" | "prompt_tokens" | "max_tokens">): number {
  return ctx.estimate({ model: f.model, prompt_tokens: f.prompt_tokens, max_tokens: f.max_tokens });
}

/** Prices every fragment and the fuse step in place; returns the plan's total. */
export function priceBuilt(ctx: PlanContext, built: Built): number {
  let total = 0;
  for (const f of built.fragments) {
    f.estimate_usd = fragmentCost(ctx, f);
    total += f.estimate_usd;
  }
  if (built.fuse.kind === "reduce" || built.fuse.kind === "judge") {
    built.fuse.estimate_usd = fragmentCost(ctx, built.fuse);
    total += built.fuse.estimate_usd;
  }
  return total;
}

export const usd = (n: number) => `$${n.toFixed(6)}`;

export function overLimit(ctx: PlanContext, total: number): boolean {
  const limit = ctx.covenant.cost.max_usd_per_strike;
  return limit !== undefined && total > limit;
}

export function costRefusal(ctx: PlanContext, what: string, total: number, reductions: readonly string[]): BuildResult {
  const limit = ctx.covenant.cost.max_usd_per_strike ?? 0;
  const tried = reductions.length > 0 ? `, even after reducing it (${reductions.join("; ")})` : "";
  return {
    ok: false,
    status: 402,
    error: {
      type: "plan_cost_limit",
      budget: "max_usd_per_strike",
      limit_usd: limit,
      requested_usd: total,
      message: `the ${what} would cost up to ${usd(total)}, over the covenant's max_usd_per_strike of ${usd(limit)}${tried}`,
    },
  };
}
