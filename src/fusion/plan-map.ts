/**
 * Map-reduce plans: a long document is chunked on natural boundaries, each chunk read by a small
 * model that writes notes for the task, and the notes combined by a larger model. Small models
 * decode several times faster, and prompt processing is spread over many slices at once, so a
 * long document is answered far sooner than by one large model reading it all.
 */
import type { Classification } from "../schema";
import { chunkDocument, separateInstruction, type Chunk } from "./chunk";
import { allowedModels, costRefusal, overLimit, priceBuilt, specOf, type BuildResult, type Built } from "./plan-common";
import { DEFAULT_DOCUMENT_TASK, FUSE_OVERHEAD_TOKENS, mapPrompt, PER_PART_OVERHEAD_TOKENS } from "./prompts";
import { estimateTokens, fragmentPrompt, utf8Bytes, type FusionRequest, type RequestText } from "./request";
import type { DraftFragment, PlanContext } from "./types";

/** Tokens of a map prompt's fixed wording. */
const MAP_OVERHEAD_TOKENS = 140;
/** Notes shorter than this say too little to be worth a strike. */
const MIN_NOTES_TOKENS = 16;
/** Budget cuts stop halving notes here: below it the reduce step has too little to work with. */
const MIN_REDUCED_NOTES_TOKENS = 64;

export interface MapOptions {
  chunkTokens: number;
  maxFragments: number;
}

export type MapBuild = BuildResult | { ok: "single"; reason: string };

export function buildMapReduce(req: FusionRequest, text: RequestText, classification: Classification, ctx: PlanContext, opts: MapOptions, reason: string): MapBuild {
  const { head, tail, document } = separateInstruction(text.input);
  const stated = [head, tail].filter((s) => s.length > 0).join("\n\n");
  const task = stated || (text.system !== null ? "Do what the system prompt asks, for the whole document." : DEFAULT_DOCUMENT_TASK);
  const fixedTokens = estimateTokens(task) + (text.system === null ? 0 : estimateTokens(text.system));
  const allowed = allowedModels(ctx);
  const needs = (chunkTokens: number, notes: number) => chunkTokens + fixedTokens + MAP_OVERHEAD_TOKENS + notes;

  // Chunks no more numerous than max_fragments: grow the chunk size until they are, within the largest context.
  const docTokens = Math.ceil(utf8Bytes(text.input, document.start, document.end) / 4);
  const maxContext = Math.max(...allowed.map((m) => m.contextTokens));
  let chunkTokens = Math.max(opts.chunkTokens, Math.ceil(docTokens / opts.maxFragments));
  let chunks: Chunk[] = [];
  for (;;) {
    if (needs(chunkTokens, MIN_NOTES_TOKENS) > maxContext) return tooLong(`the document needs more than ${opts.maxFragments} chunks of the largest context the covenant allows`);
    chunks = chunkDocument(text.input, chunkTokens, document.start, document.end);
    if (chunks.length <= opts.maxFragments) break;
    chunkTokens = Math.ceil(chunkTokens * 1.1);
  }
  if (chunks.length < 2) return { ok: "single", reason: `${reason}; but the document fits one chunk, so it runs whole` };
  const biggest = Math.max(...chunks.map((c) => c.tokens));

  const reduceModel = chooseReduceModel(req, classification, ctx);
  const reduceSpec = specOf(ctx, reduceModel);
  const room = reduceSpec.contextTokens - req.max_tokens - FUSE_OVERHEAD_TOKENS - fixedTokens;
  let notes = Math.min(ctx.policy.map_max_tokens, Math.floor(room / chunks.length) - PER_PART_OVERHEAD_TOKENS);
  if (notes < MIN_NOTES_TOKENS) return tooLong(`the notes of ${chunks.length} chunks would not fit ${reduceModel}'s context`);

  const fits = (id: string) => specOf(ctx, id).contextTokens >= needs(biggest, notes);
  let mapModel = ctx.policy.map_model ?? allowed.find((m) => fits(m.id))?.id;
  if (mapModel === undefined || !fits(mapModel)) return tooLong(`no allowed model can read a chunk of ${biggest} tokens`);

  const build = (model: string, notesTokens: number): Built => {
    const fragments: DraftFragment[] = chunks.map((chunk, i) => {
      const input = mapPrompt(task, i + 1, chunks.length, chunk.text);
      const prompt = fragmentPrompt(text, input);
      return {
        id: `m${i + 1}`,
        role: "map",
        title: `Part ${i + 1} of ${chunks.length} (characters ${chunk.start}–${chunk.end})`,
        model,
        label: null,
        system: text.system,
        input,
        prompt,
        prompt_tokens: estimateTokens(prompt),
        max_tokens: notesTokens,
        // Notes are extraction: deterministic notes make a repeated document's chunks cache hits.
        temperature: 0,
        span: { start: chunk.start, end: chunk.end },
        estimate_usd: null,
      };
    });
    const reducePromptTokens = FUSE_OVERHEAD_TOKENS + fixedTokens + chunks.length * (notesTokens + PER_PART_OVERHEAD_TOKENS);
    return {
      fragments,
      fuse: { kind: "reduce", model: reduceModel, max_tokens: req.max_tokens, temperature: req.temperature, task, prompt_tokens: reducePromptTokens, estimate_usd: null },
      reason,
      reductions: [],
    };
  };

  let built = build(mapModel, notes);
  let total = priceBuilt(ctx, built);
  const reductions: string[] = [];
  // Over the limit: smaller map models that still read a chunk (overriding a covenant's map_model
  // choice, which is a preference, not a limit), then shorter notes.
  for (const m of allowed) {
    if (!overLimit(ctx, total)) break;
    if (m.paramsB >= specOf(ctx, mapModel).paramsB || !fits(m.id)) continue;
    const next = build(m.id, notes);
    const nextTotal = priceBuilt(ctx, next);
    if (nextTotal >= total) continue;
    reductions.push(`map steps moved from ${mapModel} to ${m.id}`);
    [mapModel, built, total] = [m.id, next, nextTotal];
  }
  while (overLimit(ctx, total) && Math.floor(notes / 2) >= MIN_REDUCED_NOTES_TOKENS) {
    notes = Math.floor(notes / 2);
    built = build(mapModel, notes);
    total = priceBuilt(ctx, built);
    reductions.push(`notes per part cut to ${notes} tokens`);
  }
  built.reductions = reductions;
  if (overLimit(ctx, total)) return costRefusal(ctx, `map-reduce plan (${chunks.length} chunks on ${mapModel}, reduced by ${reduceModel})`, total, reductions);
  return { ok: true, built };
}

/**
 * The reduce model: the covenant's choice, else the model the whole request would have gone to —
 * moved up to the next larger allowed model when that is no larger than the smallest (map) one.
 */
function chooseReduceModel(req: FusionRequest, classification: Classification, ctx: PlanContext): string {
  if (ctx.policy.reduce_model !== undefined) return ctx.policy.reduce_model;
  if (req.model !== undefined) return req.model;
  const routed = ctx.route(classification);
  const allowed = allowedModels(ctx);
  const smallest = allowed[0];
  if (smallest && specOf(ctx, routed).paramsB <= smallest.paramsB) return allowed[1]?.id ?? routed;
  return routed;
}

function tooLong(message: string): BuildResult {
  return { ok: false, status: 413, error: { type: "prompt_too_long", message } };
}
