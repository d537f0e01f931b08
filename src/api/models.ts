import { createRoute, type z } from "@hono/zod-openapi";
import { DEFAULT_MODELS } from "../policy";
import { ErrorBody, ModelList } from "../schema";
import { newRouter } from "./app-types";

const modelsRoute = createRoute({
  method: "get",
  path: "/v1/models",
  summary: "Models Homeskillet can run, with what each needs from a GPU slice",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "OpenAI-style model list with Homeskillet's requirements", content: { "application/json": { schema: ModelList } } },
    401: { description: "Missing or invalid API key", content: { "application/json": { schema: ErrorBody } } },
  },
});

/** A fixed creation time keeps the listing byte-stable across isolates. */
const LISTED_AT = Date.UTC(2026, 0, 1) / 1000;

/** The model listing every interface serves (the HTTP API and the MCP `list_models` tool). */
export function modelList(): z.infer<typeof ModelList> {
  return {
    object: "list",
    data: DEFAULT_MODELS.map((m) => ({
      id: m.id,
      object: "model",
      created: LISTED_AT,
      owned_by: "homeskillet",
      vram_mb: m.vramMb,
      min_tflops: m.minTflops,
      recommended_tier: m.recommendedTier,
      preemptible_ok: m.preemptibleOk,
      context_tokens: m.contextTokens,
    })),
  };
}

export const models = newRouter().openapi(modelsRoute, (c) => c.json(modelList(), 200));
