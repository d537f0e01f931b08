// A minimal JSON-RPC client for MCP inside workerd: the SDK's Client validates tool output
// schemas with generated code, which workerd forbids, so these tests speak the wire format
// directly (the Node-side tests use the SDK's own client).
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { KEYS, ORIGIN } from "./gateway";

export const PROTOCOL_VERSION = "2025-11-25";

export interface RpcMessage {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: Record<string, unknown> & { content?: { type: string; text: string }[]; isError?: boolean; structuredContent?: unknown };
  error?: { code: number; message: string };
}

export function openMcpSocket(key: string | null = KEYS.dev, headers: Record<string, string> = {}): Promise<Response> {
  const query = key === null ? "" : `?key=${encodeURIComponent(key)}`;
  return SELF.fetch(`${ORIGIN}/mcp${query}`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "mcp", ...headers } });
}

/** One client end of an MCP WebSocket session. */
export class McpSocket {
  readonly received: RpcMessage[] = [];
  private nextId = 1;
  private waiters: Array<{ match: (m: RpcMessage) => boolean; resolve: (m: RpcMessage) => void }> = [];
  closed = false;

  constructor(
    readonly socket: WebSocket,
    readonly sessionId: string,
  ) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data as string) as RpcMessage;
      this.received.push(message);
      this.waiters = this.waiters.filter((w) => (w.match(message) ? (w.resolve(message), false) : true));
    });
    socket.addEventListener("close", () => {
      this.closed = true;
    });
  }

  static async open(key: string = KEYS.dev): Promise<McpSocket> {
    const res = await openMcpSocket(key);
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("mcp");
    const socket = res.webSocket!;
    socket.accept();
    return new McpSocket(socket, res.headers.get("mcp-session-id")!);
  }

  static async initialized(key: string = KEYS.dev): Promise<McpSocket> {
    const session = await McpSocket.open(key);
    const init = await session.request("initialize", {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "workerd-test", version: "1.0.0" },
    });
    expect(init.error).toBeUndefined();
    session.notify("notifications/initialized");
    return session;
  }

  send(message: RpcMessage | string): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  notify(method: string, params?: Record<string, unknown>): void {
    this.send({ jsonrpc: "2.0", method, ...(params ? { params } : {}) });
  }

  waitFor(match: (m: RpcMessage) => boolean, timeoutMs = 20_000): Promise<RpcMessage> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching MCP message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  request(method: string, params?: RpcMessage["params"], id: string | number = this.nextId++): Promise<RpcMessage> {
    this.send({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
    return this.waitFor((m) => m.id === id && m.method === undefined);
  }

  callTool(name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>): Promise<RpcMessage> {
    return this.request("tools/call", { name, arguments: args, ...(meta ? { _meta: meta } : {}) });
  }

  close(): void {
    this.socket.close(1000, "done");
  }
}

/** A tool result's JSON text, parsed. */
export function toolJson<T = Record<string, any>>(message: RpcMessage): T {
  const text = message.result?.content?.[0]?.text;
  if (text === undefined) throw new Error(`not a tool result: ${JSON.stringify(message)}`);
  return JSON.parse(text) as T;
}

export function toolText(message: RpcMessage): string {
  return message.result?.content?.map((c) => c.text).join("\n") ?? "";
}
