import { describe, expect, it } from "vitest";
import { call, KEYS } from "./support/gateway";
import { PROTOCOL_VERSION, type RpcMessage } from "./support/mcp";

const ACCEPT = "application/json, text/event-stream";

function post(body: unknown, opts: { key?: string | null; accept?: string; path?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return call(opts.path ?? "/mcp", {
    method: "POST",
    key: opts.key === undefined ? KEYS.dev : opts.key,
    headers: { accept: opts.accept ?? ACCEPT, "mcp-protocol-version": PROTOCOL_VERSION, ...opts.headers },
    body: JSON.stringify(body),
  });
}

/** The JSON-RPC messages of an SSE response, in order. */
async function events(res: Response): Promise<RpcMessage[]> {
  expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
  const text = await res.text();
  return text
    .split("\n\n")
    .map((block) => block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join(""))
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data) as RpcMessage);
}

const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "http-test", version: "1" } } };

describe("MCP over Streamable HTTP (stateless)", () => {
  it("initializes without a session id", async () => {
    const res = await post(initialize);
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    const [answer] = await events(res);
    expect(answer?.result).toMatchObject({ protocolVersion: PROTOCOL_VERSION, serverInfo: { name: "homeskillet" } });
  });

  it("accepts the key as a query parameter", async () => {
    const res = await post({ jsonrpc: "2.0", id: 2, method: "tools/list" }, { key: null, path: `/mcp?key=${KEYS.acme}` });
    expect(res.status).toBe(200);
    const [answer] = await events(res);
    expect((answer?.result?.tools as unknown[]).length).toBe(7);
  });

  it("refuses a missing or wrong key with 401", async () => {
    for (const key of [null, "hsk_wrong_key"]) {
      const res = await post(initialize, { key });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
  });

  it("streams strike progress on the POST's own response, before the result", async () => {
    const res = await post({
      jsonrpc: "2.0",
      id: "s1",
      method: "tools/call",
      params: { name: "strike", arguments: { prompt: "hello over http", max_tokens: 8 }, _meta: { progressToken: 7 } },
    });
    const messages = await events(res);
    expect(messages.map((m) => m.method ?? "result")).toEqual(["notifications/progress", "notifications/progress", "notifications/progress", "result"]);
    expect(messages.at(-1)?.result?.structuredContent).toMatchObject({ object: "strike", covenant_id: "default" });
  });

  it("answers bad arguments with isError and unknown methods with JSON-RPC errors", async () => {
    const [bad] = await events(await post({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "usage", arguments: { to: 5 } } }));
    expect(bad?.result?.isError).toBe(true);
    const [unknown] = await events(await post({ jsonrpc: "2.0", id: 4, method: "sampling/createMessage", params: {} }));
    expect(unknown?.error?.code).toBe(-32601);
  });

  it("follows the transport's rules: Accept, content type, GET and DELETE", async () => {
    expect((await post(initialize, { accept: "application/json" })).status).toBe(406);
    const notJson = await call("/mcp", { method: "POST", headers: { accept: ACCEPT, "content-type": "text/plain" }, body: "hi" });
    expect(notJson.status).toBe(415);
    for (const method of ["GET", "DELETE", "PUT"]) {
      const res = await call("/mcp", { method, headers: { accept: "text/event-stream" } });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, POST");
    }
    const badVersion = await post({ jsonrpc: "2.0", id: 5, method: "tools/list" }, { headers: { "mcp-protocol-version": "1999-01-01" } });
    expect(badVersion.status).toBe(400);
  });
});
