import { createRoute, z } from "@hono/zod-openapi";
import { analyseRequest } from "../classify";
import { modelCatalogue } from "../policy";
import { ErrorBody, StrikeRequest, StrikeResponse } from "../schema";
import { newRouter } from "./app-types";
import { limitBody, requireJson } from "./middleware";
import { covenantStub } from "./stubs";

const models = modelCatalogue();

const errorContent = { "application/json": { schema: ErrorBody } };

export const strikeRoute = createRoute({
  method: "post",
  path: "/v1/strikes",
  summary: "Run one strike: allocate a vGPU slice, infer, release",
  security: [{ bearer: [] }],
  middleware: [limitBody, requireJson] as const,
  request: {
    headers: z.object({
      "idempotency-key": z.string().optional().openapi({ description: "Run this strike at most once: a repeat with the same key gets the first answer." }),
    }),
    body: { required: true, content: { "application/json": { schema: StrikeRequest } } },
  },
  responses: {
    200: { description: "The completion, its cost and where its time went", content: { "application/json": { schema: StrikeResponse } } },
    400: { description: "Invalid request (the error names the field)", content: errorContent },
    401: { description: "Missing or invalid API key", content: errorContent },
    413: { description: "Body too large", content: errorContent },
    415: { description: "Body is not JSON", content: errorContent },
    402: { description: "A cost limit of the covenant was hit (the error names the budget, its limit, the spend and when it resets)", content: errorContent },
    404: { description: "No such covenant", content: errorContent },
    409: { description: "Conflicts with the covenant's state", content: errorContent },
    422: { description: "The covenant cannot serve this request", content: errorContent },
    429: { description: "Rate limited", content: errorContent },
    502: { description: "The upstream failed", content: errorContent },
    503: { description: "No capacity, or the upstream is unavailable", content: errorContent },
    504: { description: "The upstream timed out", content: errorContent },
  },
});

export const strikes = newRouter().openapi(strikeRoute, async (c) => {
  const receivedAt = Date.now();
  const req = c.req.valid("json");
  const model = req.model;
  if (model !== undefined && !models.has(model)) {
    const error = {
      type: "unknown_model",
      message: `unknown model ${JSON.stringify(model)}; available: ${[...models.keys()].join(", ")}`,
      param: "model",
    };
    return c.json({ error }, 400);
  }
  const idempotencyKey = c.req.header("idempotency-key");
  if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    const error = { type: "invalid_request", message: "Idempotency-Key must be 1 to 255 visible ASCII characters", param: "idempotency-key" };
    return c.json({ error }, 400);
  }
  const analysis = analyseRequest(req);
  const classifyMs = Date.now() - receivedAt;

  const tenant = c.get("tenant");
  const covenantId = req.covenant_id ?? "default";
  const stub = covenantStub(c.env, tenant, covenantId);
  const strikeId = `str_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const outcome = await stub.strike({
    strikeId,
    tenant,
    covenantId,
    model,
    promptText: analysis.promptText,
    promptTokens: analysis.promptTokens,
    maxTokens: req.max_tokens,
    temperature: req.temperature,
    latencySensitive: req.latency_sensitive,
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });
  const headers: Record<string, string> = outcome.replayed ? { "idempotent-replayed": "true" } : {};
  if (!outcome.ok) {
    if (outcome.error.retry_after_s !== undefined) headers["retry-after"] = String(Math.ceil(outcome.error.retry_after_s));
    return c.json({ error: { ...outcome.error, strike_id: strikeId } }, outcome.status, headers);
  }
  const { strike } = outcome;
  const body: StrikeResponse = {
    id: outcome.strikeId,
    object: "strike",
    created: Math.floor(receivedAt / 1000),
    ...strike,
    timings: { classify_ms: classifyMs, ...strike.timings, total_ms: Date.now() - receivedAt },
  };
  return c.json(body, 200, headers);
});
