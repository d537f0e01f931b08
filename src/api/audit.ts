import { createRoute, z } from "@hono/zod-openapi";
import { AuditEntry, AuditQuery, ErrorBody } from "../schema";
import { REGISTRY_NAME, validCursor, type AuditPage } from "../tenancy";
import { json, newRouter } from "./app-types";


export const auditPageSchema = z
  .object({ object: z.literal("list"), data: z.array(AuditEntry), next: z.string().nullable().openapi({ description: "Pass as `after` for the next page; null on the last." }) })
  .openapi("AuditPage");

const TenantAuditQuery = AuditQuery.omit({ tenant: true }).strict();

const auditRoute = createRoute({
  method: "get",
  path: "/v1/audit",
  summary: "This tenant's audit log: changes to its keys, covenants, limits and quotas, oldest first (paged)",
  security: [{ bearer: ["usage:read"] }],
  request: { query: TenantAuditQuery },
  responses: {
    200: json(auditPageSchema, "Audit entries"),
    400: json(ErrorBody, "Invalid query (the error names the field)"),
    401: json(ErrorBody, "Missing or invalid API key"),
    403: json(ErrorBody, "The key lacks the usage:read scope"),
  },
});

export const audit = newRouter().openapi(auditRoute, async (c) => {
  const query = c.req.valid("query");
  if (query.after !== undefined && !validCursor(query.after)) {
    return c.json({ error: { type: "invalid_request", message: "`after` is not a cursor this API gave", param: "after" } }, 400);
  }
  // Entries' before/after are any JSON, which RPC types cannot name: the shape is AuditPage.
  const page = (await c.env.TENANT_REGISTRY.getByName(REGISTRY_NAME).auditPage({ ...query, tenant: c.get("tenant") })) as unknown as AuditPage;
  return c.json(page, 200);
});
