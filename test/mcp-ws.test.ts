import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { McpSession } from "../src/mcp";
import { createCovenant } from "./support/covenants";
import { call, freshCovenant, KEYS } from "./support/gateway";
import { McpSocket, openMcpSocket, PROTOCOL_VERSION, toolJson, toolText } from "./support/mcp";

const TOOLS = ["allocation_metrics", "classify", "covenant_status", "list_models", "list_pools", "strike", "usage"];

const open: McpSocket[] = [];
async function session(key: string = KEYS.dev): Promise<McpSocket> {
  const s = await McpSocket.initialized(key);
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) if (!s.closed) s.close();
});

describe("MCP over WebSocket: opening a session", () => {
  it("needs a tenant key, in the Authorization header or the key parameter", async () => {
    expect((await openMcpSocket(null)).status).toBe(401);
    expect((await openMcpSocket("hsk_not_a_key")).status).toBe(401);
    const byHeader = await openMcpSocket(null, { authorization: `Bearer ${KEYS.acme}` });
    expect(byHeader.status).toBe(101);
    byHeader.webSocket!.accept();
    byHeader.webSocket!.close(1000);
  });

  it("speaks only the mcp subprotocol, and GET without an upgrade is not a session", async () => {
    const wrong = await openMcpSocket(KEYS.dev, { "sec-websocket-protocol": "graphql-ws" });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: { param: "sec-websocket-protocol" } });
    const plain = await call("/mcp");
    expect(plain.status).toBe(405);
  });

  it("initializes with a current protocol version and the server's capabilities", async () => {
    const s = await McpSocket.open();
    open.push(s);
    expect(s.sessionId).toMatch(/^[0-9a-f]{64}$/);
    const init = await s.request("initialize", { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "t", version: "1" } });
    expect(init.result).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      serverInfo: { name: "homeskillet" },
      capabilities: { tools: {}, resources: {} },
    });
    expect(String(init.result?.instructions)).toContain("covenant");
    const again = await s.request("initialize", { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "t", version: "1" } });
    expect(again.error?.message).toMatch(/already initialized/);
  });

  it("refuses requests before initialize, except ping", async () => {
    const s = await McpSocket.open();
    open.push(s);
    expect((await s.request("ping")).result).toEqual({});
    const early = await s.request("tools/list");
    expect(early.error).toMatchObject({ code: -32600 });
    expect(early.error?.message).toMatch(/not initialized/);
  });

  it("answers garbage frames with JSON-RPC errors and keeps the session", async () => {
    const s = await session();
    s.send("{not json");
    expect((await s.waitFor((m) => m.error?.code === -32700)).id).toBeNull();
    s.send(JSON.stringify({ jsonrpc: "1.0", id: 99, method: "tools/list" }));
    expect((await s.waitFor((m) => m.id === 99)).error?.code).toBe(-32600);
    expect((await s.request("tools/list")).result?.tools).toHaveLength(TOOLS.length);
  });
});

describe("MCP over WebSocket: tools", () => {
  it("lists every tool with an input schema generated from the zod schemas", async () => {
    const s = await session();
    const { result } = await s.request("tools/list");
    const tools = result?.tools as { name: string; description: string; inputSchema: any; outputSchema?: any }[];
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const t of tools) expect(t.description.length).toBeGreaterThan(20);
    const strike = tools.find((t) => t.name === "strike")!;
    expect(strike.inputSchema).toMatchObject({ type: "object", additionalProperties: false });
    expect(Object.keys(strike.inputSchema.properties)).toEqual(
      expect.arrayContaining(["covenant_id", "model", "messages", "prompt", "max_tokens", "temperature", "latency_sensitive"]),
    );
    expect(strike.inputSchema.properties.max_tokens).toMatchObject({ type: "integer", maximum: 8192 });
    expect(strike.outputSchema?.properties).toHaveProperty("allocation_id");
  });

  it("runs a strike with started/allocated/done progress, then reports it through the other tools", async () => {
    const s = await session(KEYS.acme);
    const covenant = freshCovenant("mcp");
    await createCovenant({ id: covenant }, KEYS.acme);

    const done = await s.callTool("strike", { covenant_id: covenant, model: "gemma-2b-it", prompt: "Say hi.", max_tokens: 16 }, { progressToken: "p1" });
    expect(done.result?.isError).toBeUndefined();
    const strike = done.result?.structuredContent as { covenant_id: string; model: string; allocation_id: string; usage: { completion_tokens: number } };
    expect(strike).toMatchObject({ covenant_id: covenant, model: "gemma-2b-it" });
    expect(toolJson(done)).toEqual(strike);
    const progress = s.received.filter((m) => m.method === "notifications/progress").map((m) => m.params!);
    expect(progress.map((p) => p.progressToken)).toEqual(["p1", "p1", "p1"]);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(progress.map((p) => String(p.message).split(":")[0])).toEqual(["started", "allocated", "done"]);
    // Progress for a request always arrives before its answer.
    expect(s.received.indexOf(done)).toBeGreaterThan(s.received.findIndex((m) => m.params?.progress === 3));

    const status = await s.callTool("covenant_status", { covenant_id: covenant });
    const leases = (status.result?.structuredContent as { leases: { allocation_id: string }[] }).leases;
    expect(leases.map((l) => l.allocation_id)).toContain(strike.allocation_id);

    const metrics = await s.callTool("allocation_metrics", { allocation_id: strike.allocation_id });
    expect(metrics.result?.isError, toolText(metrics)).toBeUndefined();
    expect(metrics.result?.structuredContent).toMatchObject({ allocation_id: strike.allocation_id, covenant_id: covenant, model: "gemma-2b-it" });
    expect((metrics.result?.structuredContent as { inference_count: number }).inference_count).toBeGreaterThanOrEqual(1);

    const usage = await s.callTool("usage", { covenant_id: covenant });
    expect(usage.result?.structuredContent).toMatchObject({ covenant_id: covenant, strikes: 1 });
  });

  it("strikes without a progress token send no progress", async () => {
    const s = await session();
    const done = await s.callTool("strike", { prompt: "Quick one.", max_tokens: 8 });
    expect(done.result?.isError).toBeUndefined();
    expect(s.received.some((m) => m.method === "notifications/progress")).toBe(false);
  });

  it("lists models and pools, and classifies without running a model", async () => {
    const s = await session();
    const models = await s.callTool("list_models");
    expect((models.result?.structuredContent as { data: { id: string }[] }).data.map((m) => m.id)).toContain("qwen-70b");
    const pools = await s.callTool("list_pools");
    const list = (pools.result?.structuredContent as { pools: { id: string; tier: string }[] }).pools;
    expect(list.length).toBeGreaterThan(0);
    expect(list.map((p) => p.tier)).toEqual(expect.arrayContaining(["standard", "premium"]));
    const classified = await s.callTool("classify", { messages: [{ role: "user", content: "Write a haiku about GPUs." }] });
    expect(classified.result?.structuredContent).toMatchObject({ prompt_text: "user: Write a haiku about GPUs.", label: expect.any(String) });
  });
});

describe("MCP over WebSocket: bad arguments are tool errors", () => {
  it("names what is wrong", async () => {
    const s = await session();
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["strike", { prompt: "a", messages: [{ role: "user", content: "b" }] }, /not both/],
      ["strike", {}, /either `messages` or `prompt`/],
      ["strike", { prompt: "x", max_tokens: 0 }, /max_tokens/],
      ["strike", { prompt: "x", model: "gpt-9" }, /unknown model "gpt-9"/],
      ["strike", { prompt: "x", covenant_id: "no-such-covenant" }, /no covenant no-such-covenant/],
      ["list_models", { verbose: true }, /verbose/],
      ["covenant_status", { covenant_id: "../etc" }, /covenant_id/],
      ["covenant_status", { covenant_id: "nope" }, /no covenant nope/],
      ["allocation_metrics", {}, /allocation_id/],
      ["allocation_metrics", { allocation_id: "alloc_not_ours" }, /not held by any of your covenants/],
      ["usage", { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }, /`from` must be before `to`/],
      ["usage", { from: "yesterday" }, /from/],
      ["classify", {}, /either `messages` or `prompt`/],
    ];
    for (const [tool, args, message] of cases) {
      const res = await s.callTool(tool, args);
      expect(res.result?.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
      expect(toolText(res)).toMatch(message);
    }
    const unknown = await s.callTool("rm_rf", {});
    expect(unknown.result?.isError).toBe(true);
    expect(toolText(unknown)).toMatch(/rm_rf not found/);
  });
});

describe("MCP over WebSocket: isolation", () => {
  it("keeps two concurrent sessions apart, even with the same request ids", async () => {
    const [a, b] = await Promise.all([session(KEYS.acme), session(KEYS.globex)]);
    const fresh = await McpSocket.open(KEYS.acme);
    open.push(fresh);
    const [ra, rb, rf] = await Promise.all([
      a.request("tools/call", { name: "strike", arguments: { prompt: "from a", max_tokens: 8 } }, 1000),
      b.request("tools/call", { name: "covenant_status", arguments: {} }, 1000),
      fresh.request("tools/list", undefined, 1000),
    ]);
    expect(ra.result?.structuredContent).toMatchObject({ object: "strike", covenant_id: "default" });
    expect(rb.result?.structuredContent).toMatchObject({ covenant: { id: "default" } });
    expect(rf.error?.message).toMatch(/not initialized/);
    // Each socket got exactly its own answer.
    for (const s of [a, b, fresh]) expect(s.received.filter((m) => m.id === 1000)).toHaveLength(1);
    expect(a.sessionId).not.toBe(b.sessionId);
  });

  it("never lets a tenant reach another tenant's covenant", async () => {
    const secret = freshCovenant("acme-private");
    await createCovenant({ id: secret }, KEYS.acme);
    const acme = await session(KEYS.acme);
    const struck = await acme.callTool("strike", { covenant_id: secret, prompt: "mine", max_tokens: 8 });
    const allocation = (struck.result?.structuredContent as { allocation_id: string }).allocation_id;

    const globex = await session(KEYS.globex);
    for (const [tool, args] of [
      ["covenant_status", { covenant_id: secret }],
      ["usage", { covenant_id: secret }],
      ["strike", { covenant_id: secret, prompt: "theirs", max_tokens: 8 }],
      ["allocation_metrics", { allocation_id: allocation }],
      ["allocation_metrics", { allocation_id: allocation, covenant_id: secret }],
    ] as const) {
      const res = await globex.callTool(tool, args);
      expect(res.result?.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
    }
    const listed = await globex.request("resources/list");
    expect((listed.result?.resources as { uri: string }[]).map((r) => r.uri)).not.toContain(`covenant://${secret}`);
    const read = await globex.request("resources/read", { uri: `covenant://${secret}` });
    expect(read.error).toMatchObject({ code: -32002 });

    // The owner sees it, as a resource too.
    const mine = await acme.request("resources/list");
    expect((mine.result?.resources as { uri: string }[]).map((r) => r.uri)).toEqual(expect.arrayContaining(["covenant://default", `covenant://${secret}`]));
    const body = await acme.request("resources/read", { uri: `covenant://${secret}` });
    const contents = body.result?.contents as { uri: string; mimeType: string; text: string }[];
    expect(contents[0]).toMatchObject({ uri: `covenant://${secret}`, mimeType: "application/json" });
    expect(JSON.parse(contents[0]!.text).covenant.id).toBe(secret);
  });
});

describe("MCP over WebSocket: hibernation", () => {
  // After hibernation the runtime builds a new object around the same state and sockets, and
  // hands it the next message: exactly what this does, with an object built by hand.
  async function deliverAfterWake(s: McpSocket, message: object): Promise<void> {
    const stub = env.MCP_SESSION.get(env.MCP_SESSION.idFromString(s.sessionId));
    await runInDurableObject(stub, async (_instance: McpSession, state) => {
      const [socket] = state.getWebSockets();
      expect(socket).toBeDefined();
      const woken = new McpSession(state, env);
      await woken.webSocketMessage(socket!, JSON.stringify(message));
    });
  }

  it("continues an initialized session from the socket's attachment", async () => {
    const s = await session(KEYS.acme);
    const stub = env.MCP_SESSION.get(env.MCP_SESSION.idFromString(s.sessionId));
    const attachment = await runInDurableObject(stub, (_i, state) => state.getWebSockets()[0]!.deserializeAttachment());
    expect(attachment).toEqual({ v: 1, tenant: "acme", sessionId: s.sessionId, initialized: true, protocolVersion: PROTOCOL_VERSION });
    await deliverAfterWake(s, { jsonrpc: "2.0", id: "after-wake", method: "tools/call", params: { name: "covenant_status", arguments: {} } });
    const answer = await s.waitFor((m) => m.id === "after-wake");
    expect(answer.result?.isError).toBeUndefined();
    expect(answer.result?.structuredContent).toMatchObject({ covenant: { id: "default" } });
    // The initialize replayed into the rebuilt server never reaches the client.
    expect(s.received.filter((m) => m.result?.serverInfo !== undefined)).toHaveLength(1);
    // Still initialized after the wake: a second initialize is refused.
    await deliverAfterWake(s, { jsonrpc: "2.0", id: "re-init", method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    expect((await s.waitFor((m) => m.id === "re-init")).error?.message).toMatch(/already initialized/);
  });

  it("keeps the tenant across a wake", async () => {
    const secret = freshCovenant("wake");
    await createCovenant({ id: secret }, KEYS.acme);
    const acme = await session(KEYS.acme);
    const globex = await session(KEYS.globex);
    const ask = { jsonrpc: "2.0", id: "status", method: "tools/call", params: { name: "covenant_status", arguments: { covenant_id: secret } } };
    await deliverAfterWake(acme, ask);
    await deliverAfterWake(globex, ask);
    expect((await acme.waitFor((m) => m.id === "status")).result?.isError).toBeUndefined();
    expect((await globex.waitFor((m) => m.id === "status")).result?.isError).toBe(true);
  });

  it("keeps an uninitialized session uninitialized", async () => {
    const s = await McpSocket.open();
    open.push(s);
    await deliverAfterWake(s, { jsonrpc: "2.0", id: "early", method: "tools/list" });
    expect((await s.waitFor((m) => m.id === "early")).error?.message).toMatch(/not initialized/);
  });

  it("forgets the session's stored state when the socket closes", async () => {
    const s = await session();
    const stub = env.MCP_SESSION.get(env.MCP_SESSION.idFromString(s.sessionId));
    expect(await runInDurableObject(stub, (_i, state) => state.storage.kv.get("initialize"))).toMatchObject({ clientInfo: { name: "workerd-test" } });
    s.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await runInDurableObject(stub, (_i, state) => [...state.storage.kv.list()].length)).toBe(0);
  });
});

describe("MCP over WebSocket: cancellation", () => {
  it("ends a cancelled request's event without an answer, and the session goes on", async () => {
    const s = await session();
    const stub = env.MCP_SESSION.get(env.MCP_SESSION.idFromString(s.sessionId));
    await runInDurableObject(stub, async (instance: McpSession, state) => {
      const [socket] = state.getWebSockets();
      const running = instance.webSocketMessage(
        socket!,
        JSON.stringify({ jsonrpc: "2.0", id: "slow", method: "tools/call", params: { name: "strike", arguments: { prompt: "long", max_tokens: 256 } } }),
      );
      await instance.webSocketMessage(socket!, JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "slow", reason: "changed my mind" } }));
      // Without the cancel settling it, this event would wait for an answer that never comes.
      await running;
    });
    expect((await s.request("ping")).result).toEqual({});
    expect(s.received.some((m) => m.id === "slow")).toBe(false);
  });
});
