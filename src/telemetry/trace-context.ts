/**
 * W3C Trace Context (`traceparent`) parsing and formatting, with no dependency on the tracing SDK:
 * logs need a trace id whether or not spans are exported.
 */

export interface TraceContext {
  /** 32 lowercase hex: the client's, when it sent a valid `traceparent`, else new. */
  traceId: string;
  /** 16 lowercase hex: this hop's span. */
  spanId: string;
  /** The client's span, when it sent one. */
  parentSpanId?: string;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Two hex digits per byte value, built once per isolate. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
/** One buffer for every id: filled and read synchronously, so never shared by two calls. */
const RANDOM = new Uint8Array(16);

export function randomHex(bytes: number): string {
  const b = bytes <= RANDOM.length ? crypto.getRandomValues(RANDOM.subarray(0, bytes)) : crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (let i = 0; i < b.length; i++) out += HEX[b[i]!];
  return out;
}

/**
 * Continues the caller's trace from a `traceparent` header (W3C Trace Context), or starts one.
 * Invalid headers (version ff, all-zero ids, wrong shape, or extra fields on version 00) start a
 * new trace, as the specification requires.
 */
export function traceFrom(header: string | null | undefined): TraceContext {
  const m = header?.trim().toLowerCase().match(TRACEPARENT);
  const spanId = randomHex(8);
  if (m) {
    const [, version, traceId, parent, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
    const valid = version !== "ff" && !(version === "00" && rest) && !/^0+$/.test(traceId) && !/^0+$/.test(parent);
    if (valid) return { traceId, spanId, parentSpanId: parent, sampled: (parseInt(flags, 16) & 1) === 1 };
  }
  return { traceId: randomHex(16), spanId, sampled: false };
}

/** The `traceparent` to send upstream: same trace, `spanId` as the parent (a child span's id when given). */
export function traceparent(trace: TraceContext, spanId = trace.spanId): string {
  return `00-${trace.traceId}-${spanId}-${trace.sampled ? "01" : "00"}`;
}

export function newSpanId(): string {
  return randomHex(8);
}
