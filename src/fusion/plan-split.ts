/**
 * Split plans: one fragment per independent sub-task, each classified and routed on its own.
 * Every part carries the request's shared preamble and postamble (context, or instructions such
 * as "answer briefly"), so it reads as a complete request. The client's max_tokens bounds the
 * whole answer, so it is shared out between the parts.
 */
import type { TaskLabel } from "../schema";
import type { SubTasks } from "./detect";
import { titleOf } from "./fuse";
import { costRefusal, fitContext, overLimit, priceBuilt, type BuildResult, type Built } from "./plan-common";
import { estimateTokens, fragmentPrompt, type FusionRequest, type RequestText } from "./request";
import type { DraftFragment, PlanContext } from "./types";

/** A part never gets fewer tokens than this (or than max_tokens, if smaller): shorter answers are useless. */
const MIN_PART_TOKENS = 16;

interface Part {
  items: string[];
  model: string;
  label: TaskLabel | null;
}

function partInput(tasks: SubTasks, items: readonly string[]): string {
  const body = items.length === 1 ? items[0]! : items.map((item, i) => `${i + 1}. ${item}`).join("\n");
  return [tasks.preamble, body, tasks.postamble].filter((s) => s.length > 0).join("\n\n");
}

/** Contiguous groups of nearly equal size, at most `max` of them. */
function groupItems(items: readonly string[], max: number): string[][] {
  const count = Math.min(items.length, max);
  const groups: string[][] = [];
  let at = 0;
  for (let g = 0; g < count; g++) {
    const size = Math.floor(items.length / count) + (g < items.length % count ? 1 : 0);
    groups.push(items.slice(at, at + size));
    at += size;
  }
  return groups;
}

export function buildSplit(req: FusionRequest, text: RequestText, tasks: SubTasks, ctx: PlanContext, maxFragments: number, reason: string): BuildResult {
  const perItem = Math.max(Math.min(MIN_PART_TOKENS, req.max_tokens), Math.floor(req.max_tokens / tasks.items.length));
  const toFragment = (part: Part, i: number): DraftFragment | null => {
    const input = partInput(tasks, part.items);
    const prompt = fragmentPrompt(text, input);
    const promptTokens = estimateTokens(prompt);
    const maxTokens = perItem * part.items.length;
    const model = fitContext(ctx, part.model, promptTokens, maxTokens);
    if (model === null) return null;
    const first = titleOf(part.items[0]!);
    return {
      id: `f${i + 1}`,
      role: "part",
      title: part.items.length === 1 ? first : `${first} (+${part.items.length - 1} more)`,
      model,
      label: part.label,
      system: text.system,
      input,
      prompt,
      prompt_tokens: promptTokens,
      max_tokens: maxTokens,
      temperature: req.temperature,
      span: null,
      estimate_usd: null,
    };
  };

  let parts: Part[] = groupItems(tasks.items, maxFragments).map((items) => {
    const classification = ctx.classify(partInput(tasks, items));
    return { items, model: req.model ?? ctx.route(classification), label: classification.label };
  });
  const build = (ps: readonly Part[]): Built | null => {
    const fragments = ps.map(toFragment);
    if (fragments.some((f) => f === null)) return null;
    return { fragments: fragments as DraftFragment[], fuse: { kind: "concat" }, reason, reductions: [] };
  };
  let built = build(parts);
  if (built === null) return tooLong();
  let total = priceBuilt(ctx, built);
  const reductions: string[] = [];
  while (overLimit(ctx, total) && parts.length > 1) {
    const merged = cheapestMerge(parts, ctx, build);
    if (merged === null) break;
    parts = merged.parts;
    built = merged.built;
    total = merged.total;
    reductions.push(merged.note);
  }
  built.reductions = reductions;
  if (overLimit(ctx, total)) return costRefusal(ctx, `split plan (${parts.length} part${parts.length === 1 ? "" : "s"})`, total, reductions);
  return { ok: true, built };
}

/**
 * Of all ways to merge two adjacent parts into one (run on the cheaper of their two models), the
 * one that leaves the plan cheapest. Merging saves the shared preamble and a strike's fixed cost,
 * and moves a part off an expensive model.
 */
function cheapestMerge(parts: readonly Part[], ctx: PlanContext, build: (ps: readonly Part[]) => Built | null) {
  let best: { parts: Part[]; built: Built; total: number; note: string } | null = null;
  for (let i = 0; i + 1 < parts.length; i++) {
    const a = parts[i]!;
    const b = parts[i + 1]!;
    const items = [...a.items, ...b.items];
    for (const model of a.model === b.model ? [a.model] : [a.model, b.model]) {
      const candidate = [...parts.slice(0, i), { items, model, label: a.label === b.label ? a.label : null }, ...parts.slice(i + 2)];
      const built = build(candidate);
      if (built === null) continue;
      const total = priceBuilt(ctx, built);
      if (best === null || total < best.total) best = { parts: candidate, built, total, note: `merged parts ${i + 1} and ${i + 2} into one on ${model}` };
    }
  }
  return best;
}

function tooLong(): BuildResult {
  return { ok: false, status: 413, error: { type: "prompt_too_long", message: "a part of this request is longer than the context of every model the covenant allows" } };
}
