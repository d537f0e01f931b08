// /api/v1: the Hosted.AI API as the contract defines it. Every route passes the fault gate first;
// handlers then validate, ask the cluster object, and sleep any simulated delay here in the
// Worker — never inside the object.
import { Hono } from "hono";
import { issueToken } from "./auth";
import { apiKeys, jwtSecret, tokenTtlSeconds } from "./config";
import { errorResponse } from "./errors";
import { gated } from "./gate";
import { type AppEnv, cluster, json, readJsonBody, respond, sleep } from "./http";
import { runInference } from "./inference";
import { AllocationRequestSchema, AllocationStatusSchema, TokenRequestSchema, validate } from "./schemas";

/** Token issuance: the one /api/v1 route that needs no JWT. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post("/auth/token", gated("token", { auth: false }), async (c) => {
  const body = await readJsonBody(c.req.raw);
  if (!body.ok) return errorResponse(body.error);
  const request = validate(TokenRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  const issued = await issueToken(
    request.value.api_key, apiKeys(c.env), jwtSecret(c.env), tokenTtlSeconds(c.env), Date.now(), c.get("tokenGeneration"),
  );
  if (issued.ok) await cluster(c.env).recordTokenIssued();
  return respond(issued);
});

/** Everything else: the caller is the JWT's subject and sees only its own allocations. */
export const callerRoutes = new Hono<AppEnv>();

const aboutAllocation = { auth: true, allocationParam: true } as const;

callerRoutes.get("/pools", gated("pools", { auth: true }), async (c) => json({ pools: await cluster(c.env).listPools() }));

callerRoutes.post("/allocations", gated("allocate", { auth: true, poolFromBody: true }), async (c) => {
  const body = c.get("body");
  if (!body.ok) return errorResponse(body.error);
  const request = validate(AllocationRequestSchema, body.value);
  if (!request.ok) return errorResponse(request.error);
  const granted = await cluster(c.env).allocate(c.get("caller"), request.value);
  if (!granted.ok) return errorResponse(granted.error);
  await sleep(granted.value.provisioningMs);
  return json(granted.value.allocation, 201);
});

callerRoutes.get("/allocations", gated("list", { auth: true }), async (c) => {
  const rawStatus = c.req.query("status");
  let status;
  if (rawStatus !== undefined) {
    const parsed = validate(AllocationStatusSchema, rawStatus, "status");
    if (!parsed.ok) return errorResponse(parsed.error);
    status = parsed.value;
  }
  return json({ allocations: await cluster(c.env).listAllocations(c.get("caller"), status) });
});

callerRoutes.get("/allocations/:id", gated("get", aboutAllocation), async (c) =>
  respond(await cluster(c.env).getAllocation(c.get("caller"), c.req.param("id"))),
);

callerRoutes.get("/allocations/:id/metrics", gated("metrics", aboutAllocation), async (c) =>
  respond(await cluster(c.env).metrics(c.get("caller"), c.req.param("id"))),
);

callerRoutes.delete("/allocations/:id", gated("release", aboutAllocation), async (c) =>
  respond(await cluster(c.env).release(c.get("caller"), c.req.param("id"))),
);

callerRoutes.post("/inference/:id", gated("inference", aboutAllocation), (c) => runInference(c, c.req.param("id")));

/** Any other /api/v1 path: unknown, but still on the far side of a partition. */
export const unknownApiRoutes = new Hono<AppEnv>();

unknownApiRoutes.all("*", gated(null, { auth: false }), (c) => c.notFound());
