/**
 * Ensemble plans: the same request to several models, fused by majority vote when the answer is
 * short (a choice, a number, a label) or by a judge model that writes the best answer from all of
 * them when it is long. Members are listed strongest-claim first — the model the request would
 * have gone to alone, then the others nearest it in size — and ties in a vote go to that order.
 */
import type { Classification } from "../schema";
import { allowedModels, costRefusal, overLimit, priceBuilt, specOf, type BuildResult, type Built } from "./plan-common";
import { FUSE_OVERHEAD_TOKENS, PER_PART_OVERHEAD_TOKENS } from "./prompts";
import { estimateTokens, type FusionRequest, type RequestText } from "./request";
import type { DraftFragment, FuseStep, PlanContext } from "./types";

export interface EnsembleOptions {
  /** Members the client named: kept as given, never dropped to fit a budget. */
  fixed?: readonly string[];
  fuse: "auto" | "vote" | "judge";
  judgeModel?: string;
}

/** Three or more distinct option letters, "(A) …" or "B. …": a multiple-choice question. */
export function isMultipleChoice(text: string): boolean {
  const letters = new Set<string>();
  for (const m of text.matchAll(/(?:^|\s)\(?([A-E])[).:]\s+\S/gm)) if (m[1]) letters.add(m[1]);
  return letters.size >= 3;
}

function defaultMembers(routed: string, ctx: PlanContext): string[] {
  const size = Math.log(specOf(ctx, routed).paramsB);
  const others = allowedModels(ctx)
    .filter((m) => m.id !== routed)
    .sort((a, b) => Math.abs(Math.log(a.paramsB) - size) - Math.abs(Math.log(b.paramsB) - size) || b.paramsB - a.paramsB);
  return [routed, ...others.map((m) => m.id)].slice(0, ctx.policy.ensemble_size);
}

export function buildEnsemble(req: FusionRequest, text: RequestText, classification: Classification, ctx: PlanContext, opts: EnsembleOptions, reason: string): BuildResult {
  const promptTokens = estimateTokens(text.prompt);
  const fits = (id: string) => specOf(ctx, id).contextTokens >= promptTokens + req.max_tokens;
  let members: string[];
  if (opts.fixed) {
    const tooSmall = opts.fixed.find((id) => !fits(id));
    if (tooSmall) return { ok: false, status: 413, error: { type: "prompt_too_long", param: "fusion.ensemble_models", message: `the request does not fit ${tooSmall}'s context` } };
    members = [...opts.fixed];
  } else {
    const routed = req.model ?? ctx.route(classification);
    members = (ctx.policy.ensemble_models ?? defaultMembers(routed, ctx)).filter(fits);
  }
  if (members.length < 2) return { ok: false, status: 400, error: { type: "ensemble_too_small", param: "fusion.ensemble_models", message: "an ensemble needs at least two allowed models that fit the request" } };

  const vote = opts.fuse === "vote" || (opts.fuse === "auto" && (classification.output_tokens <= ctx.policy.vote_max_tokens || isMultipleChoice(text.input)));
  const judgeTokens = (ms: readonly string[]) => FUSE_OVERHEAD_TOKENS + promptTokens + ms.length * (req.max_tokens + PER_PART_OVERHEAD_TOKENS);
  const judgeFits = (id: string, ms: readonly string[]) => specOf(ctx, id).contextTokens >= judgeTokens(ms) + req.max_tokens;
  const named = opts.judgeModel ?? ctx.policy.judge_model;
  // The judge: the one named, else the largest allowed model that holds every answer.
  let judge: string | null = vote ? null : (named ?? [...allowedModels(ctx)].reverse().find((m) => judgeFits(m.id, members))?.id ?? null);
  if (!vote && judge === null) return { ok: false, status: 413, error: { type: "prompt_too_long", message: "no allowed model can hold the judge prompt for this ensemble" } };

  const build = (ms: readonly string[]): Built => {
    const fragments: DraftFragment[] = ms.map((model, i) => ({
      id: `e${i + 1}`,
      role: "member",
      title: `Answer from ${model}`,
      model,
      label: classification.label,
      system: text.system,
      // Every member reads the request exactly as a single strike would: the same strings, not copies.
      input: text.input,
      prompt: text.prompt,
      prompt_tokens: promptTokens,
      max_tokens: req.max_tokens,
      temperature: req.temperature,
      span: null,
      estimate_usd: null,
    }));
    const fuse: FuseStep =
      judge === null
        ? { kind: "vote", order: fragments.map((f) => f.id) }
        : { kind: "judge", model: judge, max_tokens: req.max_tokens, temperature: req.temperature, task: text.input, prompt_tokens: judgeTokens(ms), estimate_usd: null };
    return { fragments, fuse, reason, reductions: [] };
  };

  let built = build(members);
  let total = priceBuilt(ctx, built);
  const reductions: string[] = [];
  while (overLimit(ctx, total) && !opts.fixed && members.length > 2) {
    // Drop the member that costs most; among equals the one listed last.
    const costs = built.fragments.map((f) => f.estimate_usd ?? 0);
    const drop = costs.lastIndexOf(Math.max(...costs));
    reductions.push(`dropped ensemble member ${members[drop]}`);
    members = members.filter((_, i) => i !== drop);
    built = build(members);
    total = priceBuilt(ctx, built);
  }
  // Then a smaller judge (unless the client named it) — never smaller than the largest member it judges.
  const floor = Math.max(...members.map((m) => specOf(ctx, m).paramsB));
  const smallerJudges = allowedModels(ctx)
    .filter((m) => judge !== null && m.paramsB < specOf(ctx, judge).paramsB && m.paramsB >= floor && judgeFits(m.id, members))
    .reverse();
  for (const m of smallerJudges) {
    if (!overLimit(ctx, total) || opts.judgeModel !== undefined) break;
    reductions.push(`judge moved from ${judge} to ${m.id}`);
    judge = m.id;
    built = build(members);
    total = priceBuilt(ctx, built);
  }
  built.reductions = reductions;
  if (overLimit(ctx, total)) return costRefusal(ctx, `ensemble plan (${members.join(", ")}; ${vote ? "majority vote" : `judged by ${judge}`})`, total, reductions);
  return { ok: true, built };
}
