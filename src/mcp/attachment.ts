import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

/**
 * What a session keeps on its WebSocket (`serializeAttachment`), so it survives hibernation:
 * after a wake every in-memory object is gone and only the socket and this remain. Kept small
 * (the runtime caps an attachment at 2 KiB); the client's `initialize` parameters, which can
 * be larger, are in the object's storage.
 */
export interface SessionAttachment {
  v: 1;
  tenant: string;
  sessionId: string;
  /** The server has answered `initialize`: requests other than ping are now allowed. */
  initialized: boolean;
  /** Negotiated in `initialize`. */
  protocolVersion: string | null;
}

export function newAttachment(tenant: string, sessionId: string): SessionAttachment {
  return { v: 1, tenant, sessionId, initialized: false, protocolVersion: null };
}

export function readAttachment(socket: WebSocket): SessionAttachment | undefined {
  const value = socket.deserializeAttachment() as Partial<SessionAttachment> | null;
  if (!value || value.v !== 1 || typeof value.tenant !== "string" || typeof value.sessionId !== "string") return undefined;
  return value as SessionAttachment;
}

export function markInitialized(a: SessionAttachment, protocolVersion: string | undefined): SessionAttachment {
  return { ...a, initialized: true, protocolVersion: protocolVersion ?? LATEST_PROTOCOL_VERSION };
}
