// Security checks generated from the API's own description: every route in /openapi.json, none
// listed here by hand. Without a key → 401; with a key lacking the route's scope → 403; an operator
// route with a tenant's key → 401; another tenant's ids → 404. A new route joins by being described.
import { describe, expect, it } from "vitest";
import { SCOPES } from "../src/schema";
import { call, KEYS } from "./support/gateway";
import { issueKey } from "./support/keys";

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  minimum?: number;
  minLength?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const doc = (await (await call("/openapi.json", { key: null })).json()) as Doc;
const METHODS = ["get", "post", "patch", "put", "delete"] as const;
const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
  METHODS.filter((m) => ops[m]).map((method) => ({ path, method, op: ops[method]!, name: `${method.toUpperCase()} ${path}` })),
);
const secured = routes.filter((r) => (r.op.security ?? []).length > 0);
const tenantRoutes = secured.filter((r) => "bearer" in r.op.security![0]!);
const operatorRoutes = secured.filter((r) => "operator" in r.op.security![0]!);
const scoped = tenantRoutes.filter((r) => r.op.security![0]!.bearer!.length > 0);

/** A value the schema accepts, as small as it allows: enough for a request to pass validation. */
function example(schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 8) return undefined;
  if (schema.$ref) return example(doc.components.schemas[schema.$ref.split("/").pop()!], depth + 1);
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt) return example(alt.find((s) => s.type !== "null") ?? alt[0], depth + 1);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => example(s, depth + 1) as object));
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object":
      return Object.fromEntries((schema.required ?? []).map((k) => [k, example(schema.properties?.[k], depth + 1)]));
    case "array":
      return Array.from({ length: Math.max(1, schema.minItems ?? 0) }, () => example(schema.items, depth + 1));
    case "string":
      return schema.format === "date-time" ? new Date(Date.now() + 86_400_000).toISOString() : "x".repeat(Math.max(1, schema.minLength ?? 1));
    case "integer":
    case "number":
      return Math.max(1, schema.minimum ?? 1);
    case "boolean":
      return false;
    default:
      return undefined;
  }
}

function bodyOf(op: Operation): string | undefined {
  const schema = op.requestBody?.content?.["application/json"]?.schema;
  return schema ? JSON.stringify(example(schema) ?? {}) : undefined;
}

/** Homeskillet's error type: `type`, or `code` on the OpenAI routes, which answer in OpenAI's shape. */
async function errorType(res: Response): Promise<string | undefined> {
  const e = ((await res.json()) as { error?: { type?: string; code?: string | null } }).error;
  return e?.code ?? e?.type;
}

function send(r: { path: string; method: string; op: Operation }, key: string | null, ids: Record<string, string> = {}): Promise<Response> {
  const path = r.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? "some-id");
  const body = bodyOf(r.op);
  return call(path, { method: r.method.toUpperCase(), key, ...(body !== undefined ? { body } : {}) });
}

describe("generated from /openapi.json", () => {
  it("describes the routes it must (so the generated checks cover them)", () => {
    const names = secured.map((r) => r.name);
    for (const expected of ["POST /v1/strikes", "POST /v1/chat/completions", "GET /v1/covenants/{id}", "POST /v1/keys", "POST /v1/keys/{id}/rotate", "GET /v1/audit", "POST /v1/admin/tenants", "GET /v1/admin/audit", "GET /metrics", "GET /mcp", "POST /mcp/ticket"]) {
      expect(names).toContain(expected);
    }
    expect(secured.length).toBe(routes.filter((r) => !["/openapi.json", "/healthz"].includes(r.path)).length);
  });

  it.each(secured.map((r) => [r.name, r] as const))("%s without a key → 401", async (_name, r) => {
    const res = await send(r, null);
    expect(res.status).toBe(401);
    expect(await errorType(res)).toBe("unauthorized");
  });

  it.each(operatorRoutes.map((r) => [r.name, r] as const))("%s with a tenant's key → 401", async (_name, r) => {
    expect((await send(r, KEYS.acme)).status).toBe(401);
  });

  it.each(scoped.map((r) => [r.name, r] as const))("%s with a key lacking its scope → 403", async (_name, r) => {
    const needed = r.op.security![0]!.bearer!;
    const others = SCOPES.filter((s) => !needed.includes(s));
    const { key } = await issueKey({ name: `lacks ${needed.join(" ")}`, scopes: others }, KEYS.acme);
    const res = await send(r, key);
    expect(res.status).toBe(403);
    expect(await errorType(res)).toBe("insufficient_scope");
  });

  // Each `{id}` path is the member of the collection above it; a tenant creates one there (POST with
  // a body the schema accepts), and another tenant asks for it by id.
  const memberRoutes = tenantRoutes.filter((r) => r.path.includes("{id}"));
  it.each(memberRoutes.map((r) => [r.name, r] as const))("%s with another tenant's id → 404", async (_name, r) => {
    const collection = r.path.slice(0, r.path.indexOf("/{id}"));
    const create = doc.paths[collection]?.post;
    expect(create, `POST ${collection} creates what ${r.path} names`).toBeDefined();
    const made = await call(collection, { method: "POST", key: KEYS.acme, body: bodyOf(create!) ?? "{}" });
    expect(made.status, await made.clone().text()).toBe(201);
    const { id } = (await made.json()) as { id: string };
    const res = await send(r, KEYS.globex, { id });
    expect(res.status, await res.clone().text()).toBe(404);
    // And the owner reaches it (the 404 is about the tenant, not the request).
    if (r.method === "get") expect((await send(r, KEYS.acme, { id })).status).toBe(200);
  });
});
