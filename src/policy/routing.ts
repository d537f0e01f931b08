import type { Classification, ModelRoute } from "../schema";
import { DEFAULT_MODEL_ID, DEFAULT_MODELS, modelCatalogue, type ModelCatalogue, type ModelSpec } from "./models";

/**
 * Which model serves a request, from its classification. Pure: the covenant object passes its
 * routes and allowed models, the edge passes the classification it computed.
 */
export interface RouteDecision {
  model: string;
  /** Why, in words an operator can read in a strike response or a log line. */
  reason: string;
  /** Index of the route that matched, when one did. */
  route?: number;
}

/**
 * Sensible defaults: small models for short lookups and light extraction, mid-size for prose
 * and conversation, large for hard code, maths and reasoning. Tried in order; first match wins.
 */
export const DEFAULT_ROUTES: readonly ModelRoute[] = [
  // Agent turns need a model that follows a tool format reliably: never the 2B one by default.
  { uses_tools: true, min_complexity: 0.6, model: "qwen-14b" },
  { uses_tools: true, model: "mistral-7b" },
  { labels: ["coding", "math", "reasoning"], min_complexity: 0.85, model: "qwen-70b" },
  { labels: ["coding", "math", "reasoning"], min_complexity: 0.6, model: "qwen-32b" },
  { labels: ["coding", "math", "reasoning"], model: "qwen-14b" },
  { labels: ["knowledge"], max_complexity: 0.35, model: "gemma-2b-it" },
  { labels: ["extraction"], max_complexity: 0.4, max_prompt_tokens: 4_000, model: "gemma-2b-it" },
  { labels: ["writing", "roleplay", "knowledge"], min_complexity: 0.7, model: "qwen-14b" },
  { labels: ["writing", "roleplay", "knowledge", "extraction"], model: "mistral-7b" },
];

export interface RouteOptions {
  /** Used when no route matches; the covenant's default model. */
  defaultModel?: string;
  catalogue?: ModelCatalogue;
}

export function routeMatches(route: ModelRoute, c: Classification): boolean {
  // A label the classifier is not confident of is not acted on: routes that name labels do not
  // match, so the request takes a label-free route or the covenant's default.
  if (route.labels && (c.confident === false || !route.labels.includes(c.label))) return false;
  if (route.min_complexity !== undefined && c.complexity < route.min_complexity) return false;
  if (route.max_complexity !== undefined && c.complexity > route.max_complexity) return false;
  if (route.max_prompt_tokens !== undefined && c.prompt_tokens > route.max_prompt_tokens) return false;
  if (route.latency_classes && !route.latency_classes.includes(c.latency_class)) return false;
  if (route.uses_tools !== undefined && (c.uses_tools ?? false) !== route.uses_tools) return false;
  return true;
}

function fits(spec: ModelSpec, c: Classification): boolean {
  return c.prompt_tokens + c.output_tokens <= spec.contextTokens;
}

/**
 * The allowed model closest to `wanted`: the smallest at least as large (never route a request
 * to less capability than asked for when more is allowed), else the largest below. Models whose
 * context cannot hold the prompt and the expected answer are skipped while any other fits.
 */
function nearestAllowed(wanted: ModelSpec | undefined, allowed: ModelSpec[], c: Classification): ModelSpec | undefined {
  const candidates = allowed.some((m) => fits(m, c)) ? allowed.filter((m) => fits(m, c)) : allowed;
  const bySize = [...candidates].sort((a, b) => a.paramsB - b.paramsB);
  const size = wanted?.paramsB ?? 0;
  return bySize.find((m) => m.paramsB >= size) ?? bySize[bySize.length - 1];
}

export function routeModel(
  classification: Classification,
  routes: readonly ModelRoute[],
  allowedModels: readonly string[],
  explicitModel?: string,
  options: RouteOptions = {},
): RouteDecision {
  // The request's own choice wins; whether the covenant allows it is admission's decision.
  if (explicitModel !== undefined) return { model: explicitModel, reason: "model named in the request" };

  const catalogue = options.catalogue ?? modelCatalogue(DEFAULT_MODELS);
  const allowed = allowedModels.map((id) => catalogue.get(id)).filter((m): m is ModelSpec => m !== undefined);
  const fallbackId = options.defaultModel ?? DEFAULT_MODEL_ID;
  const what =
    `${classification.label}${classification.confident === false ? " (not confident)" : ""}, ` +
    `complexity ${classification.complexity.toFixed(2)}`;

  const index = routes.findIndex((r) => routeMatches(r, classification));
  const route = index >= 0 ? routes[index] : undefined;
  const wantedId = route?.model ?? fallbackId;
  const because = route ? `route ${index} (${what})` : `no route matched (${what}); covenant default`;
  const wanted = catalogue.get(wantedId);

  if (allowed.length === 0) return { model: wantedId, reason: `${because} → ${wantedId}`, ...(route && { route: index }) };
  if (wanted && allowed.includes(wanted) && (fits(wanted, classification) || !allowed.some((m) => fits(m, classification)))) {
    return { model: wantedId, reason: `${because} → ${wantedId}`, ...(route && { route: index }) };
  }
  const chosen = nearestAllowed(wanted, allowed, classification)!;
  const why = wanted && allowed.includes(wanted) ? "its context is too small" : "it is not allowed";
  return {
    model: chosen.id,
    reason: `${because} → ${wantedId}, but ${why}; nearest allowed: ${chosen.id}`,
    ...(route && { route: index }),
  };
}
