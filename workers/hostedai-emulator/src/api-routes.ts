// /api/v1: the Hosted.AI API as the contract defines it. Handlers validate, ask the cluster
// object, and sleep any simulated delay here in the Worker — never inside the object.
import { Hono } from "hono";
import { authenticate, issueToken } from "./auth";
import { apiKeys, jwtSecret, seed, tokenTtlSeconds } from "./config";
import { errorResponse } from "./errors";
import { type AppEnv, cluster, injectedFault, json, readJsonBody, respond, sleep } from "./http";
import {
  AllocationRequestSchema, AllocationStatusSchema, InferenceRequestSchema, TokenRequestSchema, validate,
} from "./schemas";
import { generateCompletion, promptTokens } from "./textgen";

/** Token issuance: the one /api/v1 route that needs no JWT. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post("/auth/token", async (c) => {
  const fault = await injectedFault({ endpoint: "auth.token" });
  if (fault) return fault;
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(TokenRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  const issued = await issueToken(request.value.api_key, apiKeys(c.env), jwtSecret(c.env), tokenTtlSeconds(c.env), Date.now());
  if (issued.ok) await cluster(c.env).recordTokenIssued();
  return respond(issued);
});

/** Everything else: the caller is the JWT's subject and sees only its own allocations. */
export const callerRoutes = new Hono<AppEnv>();

callerRoutes.use("*", async (c, next) => {
  const caller = await authenticate(c.req.header("authorization"), jwtSecret(c.env));
  if (!caller.ok) return errorResponse(caller.error);
  c.set("caller", caller.value);
  await next();
});

callerRoutes.get("/pools", async (c) => {
  const fault = await injectedFault({ endpoint: "pools.list" });
  if (fault) return fault;
  return json({ pools: await cluster(c.env).listPools() });
});

callerRoutes.post("/allocations", async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(AllocationRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  const fault = await injectedFault({ endpoint: "allocations.create", poolId: request.value.pool_id });
  if (fault) return fault;
  const granted = await cluster(c.env).allocate(c.get("caller"), request.value);
  if (!granted.ok) return errorResponse(granted.error);
  await sleep(granted.value.provisioningMs);
  return json(granted.value.allocation, 201);
});

callerRoutes.get("/allocations", async (c) => {
  const rawStatus = c.req.query("status");
  let status;
  if (rawStatus !== undefined) {
    const parsed = validate(AllocationStatusSchema, rawStatus, "status");
    if (!parsed.ok) return errorResponse(parsed.error);
    status = parsed.value;
  }
  const fault = await injectedFault({ endpoint: "allocations.list" });
  if (fault) return fault;
  return json({ allocations: await cluster(c.env).listAllocations(c.get("caller"), status) });
});

callerRoutes.get("/allocations/:id", async (c) => {
  const allocationId = c.req.param("id");
  const fault = await injectedFault({ endpoint: "allocations.get", allocationId });
  if (fault) return fault;
  return respond(await cluster(c.env).getAllocation(c.get("caller"), allocationId));
});

callerRoutes.get("/allocations/:id/metrics", async (c) => {
  const allocationId = c.req.param("id");
  const fault = await injectedFault({ endpoint: "allocations.metrics", allocationId });
  if (fault) return fault;
  return respond(await cluster(c.env).metrics(c.get("caller"), allocationId));
});

callerRoutes.delete("/allocations/:id", async (c) => {
  const allocationId = c.req.param("id");
  const fault = await injectedFault({ endpoint: "allocations.release", allocationId });
  if (fault) return fault;
  return respond(await cluster(c.env).release(c.get("caller"), allocationId));
});

callerRoutes.post("/inference/:id", async (c) => {
  const allocationId = c.req.param("id");
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(InferenceRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  const fault = await injectedFault({ endpoint: "inference", allocationId });
  if (fault) return fault;

  const { model, prompt, max_tokens, temperature } = request.value;
  const completion = generateCompletion({ seed: seed(c.env), model, prompt, maxTokens: max_tokens, temperature });
  const prompt_tokens = promptTokens(prompt);
  const usage = {
    prompt_tokens,
    completion_tokens: completion.completionTokens,
    total_tokens: prompt_tokens + completion.completionTokens,
  };

  const clusterStub = cluster(c.env);
  const receipt = await clusterStub.beginInference(c.get("caller"), allocationId, {
    model,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
  });
  if (!receipt.ok) return errorResponse(receipt.error);
  try {
    await sleep(receipt.value.latency_ms);
  } finally {
    await clusterStub.finishInference(receipt.value.inference_id);
  }
  return json({
    allocation_id: allocationId,
    model,
    text: completion.text,
    finish_reason: completion.finishReason,
    usage,
    latency_ms: receipt.value.latency_ms,
    cost_usd: receipt.value.cost_usd,
  });
});
