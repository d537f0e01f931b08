// The operator API: tenants with their first key, quotas that are enforced and named, deletion that
// revokes every key and releases every lease, and the audit log of it all (the tenant's and the
// operator's view). In this project the dev key is the operator key (HOMESKILLET_ENV=development).
import { describe, expect, it } from "vitest";
import type { AuditEntry, KeyCreated, TenantView } from "../src/schema";
import { call, KEYS, liveAllocationsOf, strike } from "./support/gateway";

const OPERATOR = KEYS.dev;
const operator = (path: string, init: RequestInit = {}) => call(path, { ...init, key: OPERATOR });
const newId = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

async function createTenant(body: Record<string, unknown>): Promise<TenantView & { admin_key: KeyCreated }> {
  const res = await operator("/v1/admin/tenants", { method: "POST", body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

async function auditOf(key: string, query = ""): Promise<AuditEntry[]> {
  const res = await call(`/v1/audit${query}`, { key });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: AuditEntry[] }).data;
}

describe("tenants", () => {
  it("creates a tenant whose admin key has every scope, shown once", async () => {
    const id = newId("t");
    const created = await createTenant({ id });
    expect(created).toMatchObject({ id, source: "api", quotas: { covenants: 100, keys: 50, mcp_sessions: 20 } });
    const admin = created.admin_key;
    expect(admin.key.startsWith("hsk_live_")).toBe(true);
    expect(admin.scopes.sort()).toEqual(["covenants:read", "covenants:write", "keys", "strike", "usage:read"]);
    expect((await strike({ model: "gemma-2b-it", prompt: "hello", max_tokens: 4 }, admin.key)).status).toBe(200);
    // The tenant is the key's: it sees its covenants, not dev's.
    expect((await call("/v1/covenants", { key: admin.key })).status).toBe(200);

    const again = await operator("/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id }) });
    expect(again.status).toBe(409);
    // A configured tenant's id is taken too.
    expect((await operator("/v1/admin/tenants", { method: "POST", body: JSON.stringify({ id: "acme" }) })).status).toBe(409);

    const got = (await (await operator(`/v1/admin/tenants/${id}`)).json()) as TenantView;
    expect(got.usage.keys).toBe(1);
    const listed = (await (await operator("/v1/admin/tenants?limit=500")).json()) as { data: TenantView[] };
    expect(listed.data.map((t) => t.id)).toEqual(expect.arrayContaining([id, "acme", "dev"]));
    expect(listed.data.find((t) => t.id === "acme")?.source).toBe("config");
  });

  it("refuses bad tenant input with 400 naming the field, and unknown tenants with 404", async () => {
    for (const [body, param] of [[{ id: "bad id" }, "id"], [{ id: newId("q"), quotas: { keys: 0 } }, "quotas.keys"], [{ id: newId("q"), quotas: { nope: 1 } }, "quotas.nope"]] as const) {
      const res = await operator("/v1/admin/tenants", { method: "POST", body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { param?: string } }).error.param).toBe(param);
    }
    expect((await operator("/v1/admin/tenants/no-such-tenant")).status).toBe(404);
    expect((await operator("/v1/admin/tenants/no-such-tenant", { method: "DELETE" })).status).toBe(404);
  });

  it("enforces quotas on covenants and keys with a 403 naming the quota; the operator can raise them", async () => {
    const id = newId("quota");
    const { admin_key: admin } = await createTenant({ id, quotas: { covenants: 2, keys: 2 } });
    for (const c of ["c1", "c2"]) expect((await call("/v1/covenants", { method: "POST", key: admin.key, body: JSON.stringify({ id: c }) })).status).toBe(201);
    const third = await call("/v1/covenants", { method: "POST", key: admin.key, body: JSON.stringify({ id: "c3" }) });
    expect(third.status).toBe(403);
    expect(await third.json()).toMatchObject({ error: { type: "quota_exceeded", param: "quotas.covenants" } });

    const second = await call("/v1/keys", { method: "POST", key: admin.key, body: JSON.stringify({ name: "k2", scopes: ["strike"] }) });
    expect(second.status).toBe(201);
    const overKeys = await call("/v1/keys", { method: "POST", key: admin.key, body: JSON.stringify({ name: "k3", scopes: ["strike"] }) });
    expect(overKeys.status).toBe(403);
    expect(await overKeys.json()).toMatchObject({ error: { type: "quota_exceeded", param: "quotas.keys" } });

    const raised = await operator(`/v1/admin/tenants/${id}`, { method: "PATCH", body: JSON.stringify({ quotas: { covenants: 3 } }) });
    expect(raised.status).toBe(200);
    expect(((await raised.json()) as TenantView).quotas).toMatchObject({ covenants: 3, keys: 2 });
    expect((await call("/v1/covenants", { method: "POST", key: admin.key, body: JSON.stringify({ id: "c3" }) })).status).toBe(201);
  });

  it("deleting a tenant revokes every key and releases every lease of its covenants", async () => {
    const id = newId("gone");
    const { admin_key: admin } = await createTenant({ id });
    const covenant = "warm";
    expect((await call("/v1/covenants", { method: "POST", key: admin.key, body: JSON.stringify({ id: covenant, lease: { idle_timeout_s: 600 } }) })).status).toBe(201);
    expect((await strike({ covenant_id: covenant, model: "gemma-2b-it", prompt: "keep a lease", max_tokens: 4 }, admin.key)).status).toBe(200);
    // The emulator holds the covenant's lease (tagged with its tenant and covenant in metadata).
    expect((await liveAllocationsOf(covenant)).some((a) => a.metadata?.tenant_id === id)).toBe(true);

    const res = await operator(`/v1/admin/tenants/${id}`, { method: "DELETE" });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { keys_revoked: number; covenants_retired: string[]; covenants_pending: string[] };
    expect(body.keys_revoked).toBe(1);
    expect(body.covenants_retired).toContain(covenant);
    expect(body.covenants_pending).toEqual([]);
    expect((await liveAllocationsOf(covenant)).filter((a) => a.metadata?.tenant_id === id)).toEqual([]);
    expect((await call("/v1/models", { key: admin.key })).status).toBe(401);
    expect((await operator(`/v1/admin/tenants/${id}`)).status).toBe(404);
    // Configured tenants are the configuration's to remove.
    expect((await operator("/v1/admin/tenants/acme", { method: "DELETE" })).status).toBe(409);
  });
});

describe("audit log", () => {
  it("records key and covenant changes with who, before/after and the request id, never a secret", async () => {
    const id = newId("aud");
    const { admin_key: admin } = await createTenant({ id });
    const res = await call("/v1/keys", { method: "POST", key: admin.key, body: JSON.stringify({ name: "ci", scopes: ["strike"] }) });
    const child = (await res.json()) as KeyCreated;
    const traceId = res.headers.get("x-homeskillet-trace-id");
    await call(`/v1/keys/${child.id}`, { method: "PATCH", key: admin.key, body: JSON.stringify({ limits: { requests_per_minute: 5 } }) });
    await call(`/v1/keys/${child.id}/rotate`, { method: "POST", key: admin.key });
    await call(`/v1/keys/${child.id}`, { method: "DELETE", key: admin.key });
    await call("/v1/covenants", { method: "POST", key: admin.key, body: JSON.stringify({ id: "audited" }) });
    await call("/v1/covenants/audited", { method: "PATCH", key: admin.key, body: JSON.stringify({ lease: { idle_timeout_s: 5 } }) });
    await call("/v1/covenants/audited", { method: "DELETE", key: admin.key });

    const entries = await auditOf(admin.key);
    expect(entries.map((e) => e.action)).toEqual([
      "tenant.create", "key.create", "key.create", "key.update", "key.rotate", "key.revoke", "covenant.create", "covenant.update", "covenant.delete",
    ]);
    const created = entries.find((e) => e.action === "key.create" && e.target === child.id)!;
    expect(created).toMatchObject({ tenant: id, kind: "key", actor: admin.id, request_id: traceId, before: null });
    const update = entries.find((e) => e.action === "key.update")!;
    expect(update.before).toMatchObject({ limits: null });
    expect(update.after).toMatchObject({ limits: { requests_per_minute: 5 } });
    expect(entries[0]).toMatchObject({ actor: "operator", action: "tenant.create" });
    const text = JSON.stringify(entries);
    for (const secret of [admin.key, child.key]) expect(text).not.toContain(secret.slice(secret.indexOf(".") + 1));

    // Filtered by kind and paged with the cursor, in order, none twice.
    expect((await auditOf(admin.key, "?kind=covenant")).map((e) => e.action)).toEqual(["covenant.create", "covenant.update", "covenant.delete"]);
    const seen: string[] = [];
    let after = "";
    for (let page = 0; page < 10; page++) {
      const r = await call(`/v1/audit?limit=2${after}`, { key: admin.key });
      const body = (await r.json()) as { data: AuditEntry[]; next: string | null };
      seen.push(...body.data.map((e) => e.id));
      if (!body.next) break;
      after = `&after=${encodeURIComponent(body.next)}`;
    }
    expect(seen).toEqual(entries.map((e) => e.id));
    // A tenant sees only its own; the operator sees every tenant's.
    expect((await auditOf(KEYS.acme)).some((e) => e.tenant === id)).toBe(false);
    const all = (await (await operator(`/v1/admin/audit?tenant=${id}&limit=1000`)).json()) as { data: AuditEntry[] };
    expect(all.data.map((e) => e.id)).toEqual(entries.map((e) => e.id));
  });

  it("refuses bad audit queries with 400 naming the field", async () => {
    for (const [q, param] of [["?limit=0", "limit"], ["?kind=nope", "kind"], ["?from=yesterday", "from"], ["?after=not-a-cursor", "after"], ["?tenant=acme", "tenant"]] as const) {
      const res = await call(`/v1/audit${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { param?: string } }).error.param, q).toBe(param);
    }
  });
});
