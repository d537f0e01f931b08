import { DurableObject } from "cloudflare:workers";
import type { InitializeRequestParams } from "@modelcontextprotocol/sdk/types.js";
import type { Env } from "../env";
import { newAttachment, readAttachment } from "./attachment";
import { SessionRuntime, type SessionStore } from "./runtime";

/** Set by the edge after it authenticated the key; the object is reachable only through the edge. */
export const TENANT_HEADER = "x-homeskillet-tenant";
export const MCP_SUBPROTOCOL = "mcp";

const INITIALIZE_KEY = "initialize";

/**
 * One MCP session over one WebSocket, held with the hibernation API: between messages the
 * object may be evicted while the socket stays open; the next message rebuilds the session
 * from the socket's attachment (tenant, protocol version, initialized) and storage.
 */
export class McpSession extends DurableObject<Env> {
  /** Sessions live in this incarnation of the object; empty after every wake. */
  private readonly runtimes = new Map<WebSocket, Promise<SessionRuntime>>();

  override async fetch(request: Request): Promise<Response> {
    const tenant = request.headers.get(TENANT_HEADER);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !tenant) {
      return Response.json({ error: { type: "invalid_request", message: "an MCP session opens with a WebSocket upgrade" } }, { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(newAttachment(tenant, this.ctx.id.toString()));
    // The session id is the object's id, named as Streamable HTTP names it (for diagnostics).
    const headers: Record<string, string> = { "mcp-session-id": this.ctx.id.toString() };
    if (request.headers.get("sec-websocket-protocol")) headers["sec-websocket-protocol"] = MCP_SUBPROTOCOL;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(socket: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    const runtime = this.runtime(socket);
    if (!runtime) {
      socket.close(1011, "MCP session state is missing");
      return;
    }
    await (await runtime).receive(frame);
  }

  override async webSocketClose(socket: WebSocket): Promise<void> {
    await this.end(socket);
    try {
      socket.close(1000, "MCP session closed");
    } catch {
      // The runtime already answered the client's close.
    }
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    await this.end(socket);
  }

  /** The session on a socket, rebuilt from its attachment after a wake. */
  private runtime(socket: WebSocket): Promise<SessionRuntime> | undefined {
    let runtime = this.runtimes.get(socket);
    if (runtime) return runtime;
    const attachment = readAttachment(socket);
    if (!attachment) return undefined;
    runtime = SessionRuntime.open(socket, attachment, this.env, this.store(socket));
    this.runtimes.set(socket, runtime);
    // A failed rebuild is not cached: the next message tries again.
    runtime.catch(() => this.runtimes.delete(socket));
    return runtime;
  }

  private store(socket: WebSocket): SessionStore {
    const kv = this.ctx.storage.kv;
    return {
      saveAttachment: (a) => socket.serializeAttachment(a),
      saveInitialize: (params) => kv.put(INITIALIZE_KEY, params),
      loadInitialize: () => kv.get<InitializeRequestParams>(INITIALIZE_KEY),
    };
  }

  /** A session ends with its socket; one object holds one session, so its storage goes too. */
  private async end(socket: WebSocket): Promise<void> {
    const runtime = this.runtimes.get(socket);
    this.runtimes.delete(socket);
    (await runtime)?.transport.socketClosed();
    await this.ctx.storage.deleteAll();
  }
}
