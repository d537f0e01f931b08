// MCP under tenancy: a session runs with the scopes of the key (or ticket) that opened it, counts
// against the tenant's session quota until it closes, and ends when its key is revoked.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { KeyCreated } from "../src/schema";
import { eventually } from "./support/covenants";
import { call, KEYS, ORIGIN } from "./support/gateway";
import { issueKey } from "./support/keys";
import { McpSocket, openMcpSocket, toolText } from "./support/mcp";

const OPERATOR = KEYS.dev;

async function tenantWith(quotas: Record<string, number>): Promise<{ id: string; admin: KeyCreated }> {
  const id = `mcp-${crypto.randomUUID().slice(0, 8)}`;
  const res = await call("/v1/admin/tenants", { method: "POST", key: OPERATOR, body: JSON.stringify({ id, quotas }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return { id, admin: ((await res.json()) as { admin_key: KeyCreated }).admin_key };
}

describe("MCP sessions and keys", () => {
  it("each tool checks the session key's scope", async () => {
    const { key } = await issueKey({ scopes: ["covenants:read"] });
    const session = await McpSocket.initialized(key);
    const refused = await session.callTool("strike", { prompt: "hi", max_tokens: 4 });
    expect(refused.result?.isError).toBe(true);
    expect(toolText(refused)).toContain("insufficient_scope");
    const allowed = await session.callTool("covenant_status", {});
    expect(allowed.result?.isError).toBeFalsy();
    // The catalogue needs no scope.
    expect((await session.callTool("list_models")).result?.isError).toBeFalsy();
    session.close();
  });

  it("a ticket opens a session with the scopes of the key that asked for it", async () => {
    const { key } = await issueKey({ scopes: ["usage:read"] });
    const ticket = (await (await call("/mcp/ticket", { method: "POST", key })).json()) as { ticket: string };
    const res = await openMcpSocket(null, {});
    expect(res.status).toBe(401);
    const opened = await SELF.fetch(`${ORIGIN}/mcp?ticket=${encodeURIComponent(ticket.ticket)}`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "mcp" },
    });
    expect(opened.status).toBe(101);
    const socket = opened.webSocket!;
    socket.accept();
    const session = new McpSocket(socket, opened.headers.get("mcp-session-id")!);
    await session.request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } });
    session.notify("notifications/initialized");
    expect(toolText(await session.callTool("strike", { prompt: "x" }))).toContain("insufficient_scope");
    expect((await session.callTool("usage", {})).result?.isError).toBeFalsy();
    session.close();
  });

  it("counts sessions against the tenant's quota until they close", async () => {
    const { admin } = await tenantWith({ mcp_sessions: 2 });
    const a = await McpSocket.initialized(admin.key);
    const b = await McpSocket.initialized(admin.key);
    const third = await openMcpSocket(admin.key);
    expect(third.status).toBe(403);
    expect(await third.json()).toMatchObject({ error: { type: "quota_exceeded", param: "quotas.mcp_sessions" } });
    a.close();
    // The closed session gives its place back once its object has seen the close.
    const reopened = await eventually(() => openMcpSocket(admin.key), (r) => r.status === 101);
    expect(reopened.status).toBe(101);
    reopened.webSocket?.accept();
    reopened.webSocket?.close(1000, "done");
    b.close();
  });

  it("a session ends when its key is revoked", async () => {
    const { key, id } = await issueKey({ scopes: ["strike", "covenants:read"] });
    const session = await McpSocket.initialized(key);
    expect((await session.callTool("list_models")).result?.isError).toBeFalsy();
    expect((await call(`/v1/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    // Within the key cache period (1 s in tests) the session is closed on its next message.
    await new Promise((r) => setTimeout(r, 1200));
    session.send({ jsonrpc: "2.0", id: 99, method: "tools/list" });
    await eventually(async () => session.closed, (closed) => closed, 5000);
    expect(session.closed).toBe(true);
  });
});
