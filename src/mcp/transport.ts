import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCResultResponse,
  JSONRPCMessageSchema,
  type JSONRPCMessage,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";

/** What the transport tells its owner about traffic, so the session can track its state. */
export interface TransportObserver {
  /** Every message from the client, before the server sees it: a refusal answers a request in its place. */
  admit?(message: JSONRPCMessage): { code: number; message: string } | undefined;
  /** Every message the server sends, before it leaves. Returning false drops it. */
  beforeSend?(message: JSONRPCMessage): boolean;
}

/**
 * The SDK `Transport` over a Durable Object's hibernatable WebSocket. The SDK ships a WebSocket
 * client transport only; this is its server-side counterpart. The runtime, not this object, owns
 * the socket: the Durable Object receives frames in `webSocketMessage` and hands them to
 * `receive`, so a fresh transport can be attached to the same socket after hibernation.
 */
export class HibernatableWebSocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private closed = false;
  /** Requests the server has not answered yet: `receive` resolves when their answer is sent. */
  private readonly inFlight = new Map<RequestId, () => void>();

  constructor(
    private readonly socket: WebSocket,
    readonly sessionId: string,
    private readonly observer: TransportObserver = {},
  ) {}

  /** The socket was accepted before this transport existed: nothing to open. */
  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error("MCP session is closed");
    const deliver = this.observer.beforeSend?.(message) ?? true;
    if (deliver) this.socket.send(JSON.stringify(message));
    if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined) this.settle(message.id);
  }

  /**
   * One frame from the client. Resolves once the server has answered it (at once for
   * notifications and responses), so the Durable Object's event lasts as long as the work.
   */
  receive(frame: string | ArrayBuffer): Promise<void> {
    const message = this.parse(frame);
    if (!message) return Promise.resolve();
    const refusal = this.observer.admit?.(message);
    if (!refusal) return this.deliver(message);
    return "method" in message && "id" in message ? this.reject(message.id, refusal.code, refusal.message) : Promise.resolve();
  }

  /** Hands a message to the server; resolves when it is answered (requests) or at once. */
  deliver(message: JSONRPCMessage): Promise<void> {
    const answered =
      "method" in message && "id" in message ? new Promise<void>((resolve) => this.inFlight.set(message.id, resolve)) : Promise.resolve();
    this.onmessage?.(message);
    // The server never answers a request the client cancelled: its event ends with the cancel.
    if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      if (id !== undefined) this.settle(id);
    }
    return answered;
  }

  /** Answers a request without the server, e.g. when the session refuses it. */
  async reject(id: RequestId, code: number, message: string): Promise<void> {
    await this.send({ jsonrpc: "2.0", id, error: { code, message } });
  }

  /** Closes the socket from the server side (normal closure). */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.socket.close(1000, "MCP session closed");
    } catch {
      // Already closing: the client got there first.
    }
    this.socketClosed();
  }

  /** The client closed the socket, or it failed: the server must let go of the session. */
  socketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.inFlight.values()) resolve();
    this.inFlight.clear();
    this.onclose?.();
  }

  private settle(id: RequestId): void {
    this.inFlight.get(id)?.();
    this.inFlight.delete(id);
  }

  private parse(frame: string | ArrayBuffer): JSONRPCMessage | undefined {
    let json: unknown;
    try {
      json = JSON.parse(typeof frame === "string" ? frame : new TextDecoder().decode(frame));
    } catch {
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: ErrorCode.ParseError, message: "Parse error: frame is not JSON" } }));
      return undefined;
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = typeof json === "object" && json !== null && "id" in json && (typeof json.id === "string" || typeof json.id === "number") ? json.id : null;
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, error: { code: ErrorCode.InvalidRequest, message: "Invalid Request: not a JSON-RPC 2.0 message" } }));
      this.onerror?.(new Error("invalid JSON-RPC message"));
      return undefined;
    }
    return parsed.data;
  }
}
