import { OpenAPIHono } from "@hono/zod-openapi";
import { requireTenant, RouteScopes } from "../auth";
import { VERSION } from "../version";
import type { AppEnv } from "./app-types";
import { notFound, onError, validationHook } from "./errors";
import { mcpRoutes } from "../mcp";
import { classifications } from "./classify";
import { covenants } from "./covenants";
import { models } from "./models";
import { openai, openAiErrors } from "./openai";
import { strikes } from "./strikes";
import { metricsRoutes, requestLogger } from "../telemetry";
import { dashboardRoutes } from "../dashboard";
import { admin } from "./admin";
import { audit } from "./audit";
import { corsFromEnv } from "./cors";
import { documentOperatorRoutes } from "./documented";
import { keys } from "./keys";
import { usageExport } from "./usage-export";

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(notFound);
  // Before everything else, so a browser's preflight never needs a key.
  app.use("*", corsFromEnv);
  // One JSON line per request, with the W3C trace id (taken from traceparent or new).
  app.use("*", requestLogger);

  app.get("/healthz", (c) => c.json({ status: "ok", service: "homeskillet", version: VERSION }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A tenant's API key. A route's security names the scopes the key needs (strike, covenants:read, covenants:write, keys, usage:read).",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "operator", { type: "http", scheme: "bearer", description: "The deployment's operator key (HOMESKILLET_OPERATOR_KEY)." });
  documentOperatorRoutes(app.openAPIRegistry);
  // Which key and which scopes each route needs is read from this document (src/auth/route-scopes.ts).
  const routes = new RouteScopes(() => app.openAPIRegistry.definitions);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Homeskillet",
      version: VERSION,
      description: "Covenant-based orchestration of AI inference on virtualised GPUs.",
    },
  });

  app.route("/", metricsRoutes); // operator key, not tenant keys (src/telemetry/endpoint.ts)
  // The dashboard's data, operator key too; its page is a static asset (src/dashboard/routes.ts).
  app.route("/", dashboardRoutes);

  // Registered before auth so that its errors, too, reach OpenAI clients in OpenAI's shape.
  app.use("/v1/chat/completions", openAiErrors);
  app.use("/v1/*", requireTenant(routes));
  app.use("/mcp/ticket", requireTenant(routes));
  app.route("/", admin);
  app.route("/", keys);
  app.route("/", audit);
  app.route("/", usageExport);
  app.route("/", strikes);
  app.route("/", classifications);
  app.route("/", models);
  app.route("/", covenants);
  app.route("/", openai);
  app.route("/", mcpRoutes);
  return app;
}
