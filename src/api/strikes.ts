import { createRoute, z } from "@hono/zod-openapi";
import { ErrorBody, StrikeRequest, StrikeResponse } from "../schema";
import { cacheHeader, callerOf, runStrike } from "./strike-service";
import { newRouter } from "./app-types";
import { limitBody, requireJson } from "./middleware";

const errorContent = { "application/json": { schema: ErrorBody } };
const IDEMPOTENCY_KEY = "Run this strike at most once: a repeat with the same key gets the first answer.";

export const strikeRoute = createRoute({
  method: "post",
  path: "/v1/strikes",
  summary: "Run one strike: allocate a vGPU slice, infer, release",
  security: [{ bearer: ["strike"] }],
  middleware: [limitBody, requireJson] as const,
  // Documented, not validated here: a header validator copies every request header into an object
  // on every strike to check one optional string, which precheck (src/api/strike-service.ts)
  // checks anyway, with its own 400 naming the header.
  parameters: [
    {
      name: "idempotency-key",
      in: "header",
      required: false,
      description: IDEMPOTENCY_KEY,
      schema: { type: "string", description: IDEMPOTENCY_KEY },
    },
  ],
  request: {
    body: { required: true, content: { "application/json": { schema: StrikeRequest } } },
  },
  responses: {
    200: {
      description: "The completion, its cost and where its time went",
      headers: z.object({
        "x-homeskillet-cache": z.enum(["hit", "semantic", "miss"]).optional().openapi({ description: "How the covenant's answer cache served the strike, when it was consulted (see `cache` in the body)." }),
      }),
      content: { "application/json": { schema: StrikeResponse } },
    },
    400: { description: "Invalid request (the error names the field)", content: errorContent },
    401: { description: "Missing, invalid or revoked API key", content: errorContent },
    403: { description: "The key may not use this model", content: errorContent },
    413: { description: "Body too large", content: errorContent },
    415: { description: "Body is not JSON", content: errorContent },
    402: { description: "A cost limit of the covenant or a dollar limit of the key was hit (the error names the budget, its limit, the spend and when it resets)", content: errorContent },
    404: { description: "No such covenant", content: errorContent },
    409: { description: "Conflicts with the covenant's state", content: errorContent },
    422: { description: "The covenant cannot serve this request", content: errorContent },
    429: {
      description:
        "A limit of the key or the covenant was reached (the error names it, its scope and when to retry; `retry-after` and the `x-ratelimit-*` headers say the same)",
      content: errorContent,
    },
    502: { description: "The upstream failed", content: errorContent },
    503: { description: "No capacity, or the upstream is unavailable", content: errorContent },
    504: { description: "The upstream timed out", content: errorContent },
  },
});

export const strikes = newRouter().openapi(strikeRoute, async (c) => {
  const req = c.req.valid("json");
  const answer = await runStrike(callerOf(c), {
    covenantId: req.covenant_id ?? "default",
    model: req.model,
    messages: req.messages,
    prompt: req.prompt,
    maxTokens: req.max_tokens,
    temperature: req.temperature,
    latencySensitive: req.latency_sensitive,
    priority: req.priority,
    fusion: req.fusion,
    idempotencyKey: c.req.header("idempotency-key"),
  });
  if (!answer.ok) return c.json({ error: answer.error }, answer.status, answer.headers);
  const headers = { ...answer.headers, ...cacheHeader(answer.body.cache) };
  return c.json(answer.body, 200, answer.replayed ? { ...headers, "idempotent-replayed": "true" } : headers);
});
