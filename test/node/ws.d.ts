// The few parts of `ws` these tests use (the package ships no types, and Node 20 has no global
// WebSocket): a WHATWG-style client for the SDK's transport, with `ws`'s own events besides.
declare module "ws" {
  export class WebSocket extends EventTarget {
    constructor(url: string | URL, protocols?: string | string[], options?: { headers?: Record<string, string> });
    readonly protocol: string;
    readonly readyState: number;
    onopen: ((event: unknown) => void) | null;
    onclose: ((event: unknown) => void) | null;
    onerror: ((event: unknown) => void) | null;
    onmessage: ((event: { data: unknown }) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
    on(event: "message", listener: (data: Buffer | string) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    once(event: "open", listener: () => void): this;
  }
}
