import { configuredPrincipal, type Principal } from "../auth";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  ErrorCode,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type InitializeRequestParams,
  type InitializeResult,
  type JSONRPCMessage,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { Env } from "../env";
import { markInitialized, type SessionAttachment } from "./attachment";
import { createMcpServer } from "./server";
import { HibernatableWebSocketTransport } from "./transport";

/** Where a session's state goes: the attachment on its socket, the rest in object storage. */
export interface SessionStore {
  saveAttachment(attachment: SessionAttachment): void;
  saveInitialize(params: InitializeRequestParams): void;
  loadInitialize(): InitializeRequestParams | undefined;
  /** The key the session was opened with (its scopes and limits apply to every tool). */
  loadPrincipal(): Principal | undefined;
}

/** The id of the `initialize` replayed into a rebuilt server; its answer never leaves. */
const REPLAY_ID = "homeskillet:replayed-initialize";

/**
 * One live MCP session on one WebSocket: an McpServer, its transport, and the lifecycle rules
 * the SDK server does not enforce on its own (initialize first, and only once). Built when the
 * socket opens and again after every wake from hibernation, from the attachment alone.
 */
export class SessionRuntime {
  readonly transport: HibernatableWebSocketTransport;
  readonly server: McpServer;
  private pendingInit: { id: RequestId; params: InitializeRequestParams } | undefined;

  private constructor(
    socket: WebSocket,
    private attachment: SessionAttachment,
    env: Env,
    private readonly store: SessionStore,
  ) {
    this.server = createMcpServer({ env, tenant: attachment.tenant, principal: store.loadPrincipal() ?? configuredPrincipal(attachment.tenant) });
    this.transport = new HibernatableWebSocketTransport(socket, attachment.sessionId, {
      admit: (m) => this.admit(m),
      beforeSend: (m) => this.beforeSend(m),
    });
  }

  static async open(socket: WebSocket, attachment: SessionAttachment, env: Env, store: SessionStore): Promise<SessionRuntime> {
    const runtime = new SessionRuntime(socket, attachment, env, store);
    await runtime.server.connect(runtime.transport);
    if (attachment.initialized) await runtime.replayInitialize();
    return runtime;
  }

  receive(frame: string | ArrayBuffer): Promise<void> {
    return this.transport.receive(frame);
  }

  /**
   * A rebuilt server has not seen the client's `initialize`: feed it the stored one, so it holds
   * the same client capabilities and version as before the session hibernated.
   */
  private async replayInitialize(): Promise<void> {
    const params = this.store.loadInitialize();
    if (params) await this.transport.deliver({ jsonrpc: "2.0", id: REPLAY_ID, method: "initialize", params });
  }

  private admit(message: JSONRPCMessage): { code: number; message: string } | undefined {
    if (!isJSONRPCRequest(message)) return undefined;
    if (message.method === "initialize") {
      if (this.attachment.initialized || this.pendingInit) return { code: ErrorCode.InvalidRequest, message: "Invalid Request: session already initialized" };
      this.pendingInit = { id: message.id, params: message.params as InitializeRequestParams };
      return undefined;
    }
    if (!this.attachment.initialized && message.method !== "ping") {
      return { code: ErrorCode.InvalidRequest, message: "Invalid Request: session not initialized; send `initialize` first" };
    }
    return undefined;
  }

  private beforeSend(message: JSONRPCMessage): boolean {
    if (!isJSONRPCResultResponse(message) && !isJSONRPCErrorResponse(message)) return true;
    if (message.id === REPLAY_ID) return false;
    const pending = this.pendingInit;
    if (pending && message.id === pending.id) {
      this.pendingInit = undefined;
      if (isJSONRPCResultResponse(message)) {
        // Saved before the answer leaves, so the client's next message finds the session initialized.
        const result = message.result as InitializeResult;
        this.attachment = markInitialized(this.attachment, result.protocolVersion);
        this.store.saveAttachment(this.attachment);
        this.store.saveInitialize(pending.params);
      }
    }
    return true;
  }
}
