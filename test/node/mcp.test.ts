// The MCP endpoint through the official SDK client, over both transports it serves, against
// the whole system running locally (gateway, Hosted.AI emulator, local-node emulator).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CallToolResultSchema, LATEST_PROTOCOL_VERSION, type CallToolResult, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, inject, it } from "vitest";
import { WebSocket } from "ws";

// Node 20 has no global WebSocket; the SDK's client transport expects one.
globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket;

const { gateway, keys } = inject("system");
type Tenant = keyof typeof keys;

const transports = {
  websocket: (key: string): Transport => new WebSocketClientTransport(new URL(`${gateway.replace(/^http/, "ws")}/mcp?key=${key}`)),
  "streamable HTTP": (key: string): Transport =>
    new StreamableHTTPClientTransport(new URL(`${gateway}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
};

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connect(kind: keyof typeof transports, tenant: Tenant = "dev"): Promise<Client> {
  const client = new Client({ name: "homeskillet-node-test", version: "1.0.0" });
  await client.connect(transports[kind](keys[tenant]));
  clients.push(client);
  return client;
}

async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}

async function createCovenant(tenant: Tenant, id: string): Promise<void> {
  const res = await fetch(`${gateway}/v1/covenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${keys[tenant]}`, "content-type": "application/json" },
    body: JSON.stringify({ id }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

const fresh = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

describe.each(Object.keys(transports) as (keyof typeof transports)[])("MCP SDK client over %s", (kind) => {
  it("initializes and lists every tool", async () => {
    const client = await connect(kind);
    expect(client.getServerVersion()).toMatchObject({ name: "homeskillet" });
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, resources: {} });
    expect(client.getInstructions()).toContain("covenant");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["allocation_metrics", "classify", "covenant_status", "list_models", "list_pools", "strike", "usage"]);
    expect(tools.find((t) => t.name === "usage")?.inputSchema.properties).toHaveProperty("from");
  });

  it("calls each tool; structured results match the declared output schemas", async () => {
    // The SDK client checks structuredContent against each tool's outputSchema on every call.
    const client = await connect(kind, "acme");
    const covenant = fresh("node-mcp");
    await createCovenant("acme", covenant);

    const models = await tool(client, "list_models");
    expect((models.structuredContent as { data: { id: string }[] }).data).toHaveLength(5);
    const pools = await tool(client, "list_pools");
    expect((pools.structuredContent as { pools: unknown[] }).pools.length).toBeGreaterThan(0);
    const classified = await tool(client, "classify", { prompt: "Explain vGPU slicing." });
    expect(classified.structuredContent).toMatchObject({ label: expect.any(String), prompt_text: "Explain vGPU slicing." });
    expect((classified.structuredContent as { prompt_tokens: number }).prompt_tokens).toBeGreaterThan(0);

    const progress: Progress[] = [];
    const struck = (await client.callTool(
      { name: "strike", arguments: { covenant_id: covenant, model: "mistral-7b", prompt: "One sentence on leases.", max_tokens: 16 } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    expect(struck.isError, text(struck)).toBeFalsy();
    const strike = struck.structuredContent as { allocation_id: string; model: string; covenant_id: string };
    expect(strike).toMatchObject({ model: "mistral-7b", covenant_id: covenant });
    expect(progress.map((p) => [p.progress, p.total, p.message?.split(":")[0]])).toEqual([
      [1, 3, "started"],
      [2, 3, "allocated"],
      [3, 3, "done"],
    ]);

    const status = await tool(client, "covenant_status", { covenant_id: covenant });
    expect((status.structuredContent as { leases: { allocation_id: string }[] }).leases.map((l) => l.allocation_id)).toContain(strike.allocation_id);
    const metrics = await tool(client, "allocation_metrics", { allocation_id: strike.allocation_id, covenant_id: covenant });
    expect(metrics.isError, text(metrics)).toBeFalsy();
    expect(metrics.structuredContent).toMatchObject({ allocation_id: strike.allocation_id, model: "mistral-7b" });
    const usage = await tool(client, "usage", { covenant_id: covenant });
    expect(usage.structuredContent).toMatchObject({ covenant_id: covenant, strikes: 1 });

    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(["covenant://default", `covenant://${covenant}`]));
    const read = await client.readResource({ uri: `covenant://${covenant}` });
    const [body] = read.contents;
    expect(body && "text" in body ? JSON.parse(body.text).covenant.id : undefined).toBe(covenant);
  });

  it("reports bad arguments as tool errors that name the problem", async () => {
    const client = await connect(kind);
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["strike", { prompt: "x", temperature: 3 }, /temperature/],
      ["strike", { prompt: "x", model: "llama-405b" }, /unknown_model/],
      ["strike", { prompt: "x", extra: 1 }, /extra/],
      ["usage", { covenant_id: "missing-one" }, /covenant_not_found/],
      ["allocation_metrics", { allocation_id: "alloc_nope" }, /allocation_not_found/],
    ];
    for (const [name, args, message] of cases) {
      const result = await tool(client, name, args);
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(text(result)).toMatch(message);
    }
  });

  it("keeps concurrent sessions of two tenants apart", async () => {
    const secret = fresh("node-private");
    await createCovenant("acme", secret);
    const [acme, globex] = await Promise.all([connect(kind, "acme"), connect(kind, "globex")]);
    const [mine, theirs, theirStrike] = await Promise.all([
      tool(acme, "covenant_status", { covenant_id: secret }),
      tool(globex, "covenant_status", { covenant_id: secret }),
      tool(globex, "strike", { covenant_id: secret, prompt: "not mine", max_tokens: 4 }),
    ]);
    expect(mine.isError).toBeFalsy();
    expect(theirs.isError).toBe(true);
    expect(theirStrike.isError).toBe(true);
    expect((await globex.listResources()).resources.map((r) => r.uri)).not.toContain(`covenant://${secret}`);
    await expect(globex.readResource({ uri: `covenant://${secret}` })).rejects.toThrow(/not found/i);
  });

  it("refuses a client without a valid key", async () => {
    const client = new Client({ name: "no-key", version: "1" });
    await expect(client.connect(transports[kind]("hsk_not_a_key"))).rejects.toThrow();
  });
});

describe("MCP over WebSocket with a ticket", () => {
  it("connects the SDK client at /mcp?ticket=…, and the ticket works once", async () => {
    const res = await fetch(`${gateway}/mcp/ticket`, { method: "POST", headers: { authorization: `Bearer ${keys.acme}` } });
    expect(res.status, await res.clone().text()).toBe(201);
    const { ticket } = (await res.json()) as { ticket: string };
    const url = new URL(`${gateway.replace(/^http/, "ws")}/mcp?ticket=${ticket}`);
    const client = new Client({ name: "ticket-test", version: "1.0.0" });
    await client.connect(new WebSocketClientTransport(url));
    clients.push(client);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("strike");
    const again = new Client({ name: "ticket-again", version: "1.0.0" });
    await expect(again.connect(new WebSocketClientTransport(url))).rejects.toThrow();
  });
});

describe("MCP over WebSocket, protocol details", () => {
  it("negotiates the mcp subprotocol and a current protocol version", async () => {
    const socket = new WebSocket(`${gateway.replace(/^http/, "ws")}/mcp`, "mcp", { headers: { authorization: `Bearer ${keys.dev}` } });
    const answer = new Promise<{ result: { protocolVersion: string } }>((resolve, reject) => {
      socket.on("message", (data) => resolve(JSON.parse(String(data))));
      socket.on("error", reject);
    });
    await new Promise<void>((resolve) => socket.once("open", () => resolve()));
    expect(socket.protocol).toBe("mcp");
    socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } } }));
    expect((await answer).result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    socket.close();
  });
});
