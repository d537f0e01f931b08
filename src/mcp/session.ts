import { DurableObject } from "cloudflare:workers";
import type { InitializeRequestParams } from "@modelcontextprotocol/sdk/types.js";
import { keyCacheMs, principalOf, type Principal, type PrincipalRecord } from "../auth";
import type { Env } from "../env";
import { newAttachment, readAttachment } from "./attachment";
import { SessionRuntime, type SessionStore } from "./runtime";

/** The authenticated key's principal, set by the edge; the object is reachable only through the edge. */
export const PRINCIPAL_HEADER = "x-homeskillet-principal";
export const MCP_SUBPROTOCOL = "mcp";

const INITIALIZE_KEY = "initialize";
const PRINCIPAL_KEY = "principal";
/** How often a live session tells its tenant's directory it still counts against the quota. */
const TOUCH_EVERY_MS = 5 * 60_000;

/**
 * One MCP session over one WebSocket, held with the hibernation API: between messages the
 * object may be evicted while the socket stays open; the next message rebuilds the session
 * from the socket's attachment (tenant, protocol version, initialized) and storage.
 */
export class McpSession extends DurableObject<Env> {
  /** Sessions live in this incarnation of the object; empty after every wake. */
  private readonly runtimes = new Map<WebSocket, Promise<SessionRuntime>>();
  /** When this incarnation last confirmed the session's key is still usable, and told the directory it lives. */
  private checkedAt = 0;
  private touchedAt = 0;

  override async fetch(request: Request): Promise<Response> {
    const principal = request.headers.get(PRINCIPAL_HEADER);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !principal) {
      return Response.json({ error: { type: "invalid_request", message: "an MCP session opens with a WebSocket upgrade" } }, { status: 426 });
    }
    const record = JSON.parse(principal) as PrincipalRecord;
    this.ctx.storage.kv.put(PRINCIPAL_KEY, record);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(newAttachment(record.tenant, this.ctx.id.toString()));
    this.checkedAt = this.touchedAt = Date.now();
    // The session id is the object's id, named as Streamable HTTP names it (for diagnostics).
    const headers: Record<string, string> = { "mcp-session-id": this.ctx.id.toString() };
    if (request.headers.get("sec-websocket-protocol")) headers["sec-websocket-protocol"] = MCP_SUBPROTOCOL;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(socket: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    if (!(await this.keyStillUsable())) {
      // A revoked or expired key ends its sessions too, within the same bound as its HTTP requests.
      socket.close(1008, "the API key of this session was revoked or expired");
      await this.end(socket);
      return;
    }
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

  private principal(): Principal | undefined {
    const record = this.ctx.storage.kv.get<PrincipalRecord>(PRINCIPAL_KEY);
    return record ? principalOf(record) : undefined;
  }

  /**
   * Asked again at most every key-cache period (HOMESKILLET_KEY_CACHE_S), like an isolate's cached
   * key. Configured keys live as long as the configuration, which a running object cannot outlive.
   */
  private async keyStillUsable(): Promise<boolean> {
    const p = this.principal();
    if (!p) return false;
    const now = Date.now();
    if (p.expiresAt !== null && p.expiresAt <= now) return false;
    const directory = this.env.TENANTS.getByName(p.tenant);
    if (now - this.touchedAt >= TOUCH_EVERY_MS) {
      this.touchedAt = now;
      await directory.touchMcpSession(this.ctx.id.toString()).catch(() => {});
    }
    if (p.keyId.startsWith("config:") || now - this.checkedAt < keyCacheMs(this.env)) return true;
    const usable = await directory.keyUsable(p.keyId).catch(() => true);
    if (usable) this.checkedAt = now;
    return usable;
  }

  private store(socket: WebSocket): SessionStore {
    const kv = this.ctx.storage.kv;
    return {
      loadPrincipal: () => this.principal(),
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
    const tenant = this.principal()?.tenant;
    if (tenant) await this.env.TENANTS.getByName(tenant).closeMcpSession(this.ctx.id.toString()).catch(() => {});
    await this.ctx.storage.deleteAll();
  }
}
