// HTTP surface: the OpenAI-compatible routes mlx_lm.server serves, plus /admin for whoever runs
// the node. Handlers only parse, delegate and answer; injected faults are applied in front of them.
import { Hono, type Context } from "hono";
import type { z } from "zod";
import { checkAccess, isLoopback } from "./auth";
import { readJsonBody } from "./body";
import { sleep, sleepUnlessAborted } from "./clock";
import { chatJob, runCompletion, textJob } from "./completion";
import { deviceStub } from "./device";
import { readConfig, type Env } from "./env";
import { ApiError, fromZodError } from "./errors";
import { FaultConfig, injectedError, injectedTimeout, NO_FAULTS, nodeDown } from "./faults";
import { modelList } from "./responses";
import { AdminConfigRequest, ChatCompletionRequest, TextCompletionRequest } from "./schema";
import { recordTraceparent, tracedRequests } from "../../shared/trace-record";

type App = { Bindings: Env; Variables: { streamCutAfterTokens: number | null } };

/** An injected hang outlasts any sensible client timeout, then gives up. */
export const HANG_MS = 5 * 60_000;

// mlx_lm.server allows any origin, so browser tools can call a local node directly.
const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "*",
  "access-control-allow-headers": "*",
};

export const app = new Hono<App>();

app.use("*", async (c, next) => {
  await next();
  for (const [name, value] of Object.entries(CORS_HEADERS)) c.res.headers.set(name, value);
});

app.options("*", (c) => c.body(null, 204));

app.use("/v1/*", recordTraceparent);

app.use("*", async (c, next) => {
  const url = new URL(c.req.url);
  const adminOnLoopback = url.pathname.startsWith("/admin/") && isLoopback(url);
  if (!adminOnLoopback) {
    const denied = checkAccess(c.req.raw.headers, readConfig(c.env));
    if (denied) throw denied;
  }
  await next();
});

// Faults reach every API request, as a flaky tunnel or node would; /admin stays up so that a run
// can always turn them off again.
app.use("*", async (c, next) => {
  if (c.req.method === "OPTIONS" || new URL(c.req.url).pathname.startsWith("/admin/")) return next();
  const plan = await deviceStub(c.env).planFault();
  await sleep(plan.latencyMs);
  switch (plan.action.kind) {
    case "down":
      throw nodeDown();
    case "error":
      throw injectedError(plan.action.status);
    case "hang":
      await sleepUnlessAborted(HANG_MS, c.req.raw.signal);
      throw injectedTimeout();
    case "pass":
      c.set("streamCutAfterTokens", plan.action.streamCutAfterTokens);
      await next();
  }
});

app.get("/health", (c) => c.json({ status: "ok" }));

app.get("/v1/models", (c) => c.json(modelList(readConfig(c.env).models, nowSeconds())));

// mlx_lm.server filters the list by the id that follows the prefix, which may contain slashes.
app.get("/v1/models/*", (c) => {
  const raw = new URL(c.req.url).pathname.slice("/v1/models/".length);
  const id = safeDecode(raw);
  const models = readConfig(c.env).models.filter((m) => m === id);
  return c.json(modelList(models, nowSeconds()));
});

async function chatCompletions(c: Context<App>): Promise<Response> {
  const body = await parseBody(c.req.raw, ChatCompletionRequest);
  return runCompletion(chatJob(body, readConfig(c.env)), c.env, c.get("streamCutAfterTokens"), waitUntilOf(c));
}

app.post("/v1/chat/completions", chatCompletions);
app.post("/chat/completions", chatCompletions);

app.post("/v1/completions", async (c) => {
  const body = await parseBody(c.req.raw, TextCompletionRequest);
  return runCompletion(textJob(body, readConfig(c.env)), c.env, c.get("streamCutAfterTokens"), waitUntilOf(c));
});

/** The `traceparent` recent API requests arrived with (see trace-record.ts). */
app.get("/admin/traceparents", (c) => c.json({ requests: tracedRequests() }));

app.get("/admin/stats", async (c) => c.json(await deviceStub(c.env).stats()));

app.post("/admin/config", async (c) => {
  const body = await parseBody(c.req.raw, AdminConfigRequest);
  return c.json(await deviceStub(c.env).configure({ latencyScale: body.latency_scale }));
});

app.post("/admin/reset", async (c) => c.json(await deviceStub(c.env).reset()));

app.get("/admin/faults", async (c) => c.json(await deviceStub(c.env).getFaults()));

/** Replaces the whole fault configuration: anything left out is off. */
app.put("/admin/faults", async (c) => {
  const config = await parseBody(c.req.raw, FaultConfig);
  return c.json(await deviceStub(c.env).setFaults(config));
});

app.delete("/admin/faults", async (c) => c.json(await deviceStub(c.env).setFaults(NO_FAULTS)));

app.notFound((c) =>
  new ApiError(404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`, "invalid_request_error", null, "not_found")
    .toResponse(CORS_HEADERS),
);

app.onError((error, c) => {
  if (error instanceof ApiError) return error.toResponse(CORS_HEADERS);
  console.error("local-node-emulator: unhandled error", c.req.method, c.req.url, error);
  return new ApiError(500, "The node failed while handling the request.", "server_error", null, "internal_error")
    .toResponse(CORS_HEADERS);
});

async function parseBody<T extends z.ZodType>(request: Request, schema: T): Promise<z.output<T>> {
  const raw = await readJsonBody(request);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw fromZodError(parsed.error, raw);
  return parsed.data;
}

/** A malformed escape names no model, so it matches nothing instead of failing the request. */
function safeDecode(component: string): string | undefined {
  try {
    return decodeURIComponent(component);
  } catch {
    return undefined;
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The request's `waitUntil`; a test calling the app directly has none, and the work just runs. */
function waitUntilOf(c: { executionCtx: ExecutionContext }): (work: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return (work) => void work.catch(() => {});
  }
}
