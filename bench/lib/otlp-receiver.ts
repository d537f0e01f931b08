// A minimal OTLP/HTTP traces receiver on loopback, for tests and benches: it accepts JSON
// `ExportTraceServiceRequest` bodies on POST /v1/traces (what the gateway's exporter sends),
// answers as a collector does, and keeps the spans (or, for benches, only counts them).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One received span, flattened: ids as hex, attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  status: { code: number; message?: string };
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  service: string | undefined;
}

export interface OtlpReceiver {
  /** Base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests received, and their bodies' total size. */
  requests: number;
  bytes: number;
  /** Resolves with the spans of `traceId` once `done(spans)` holds, or rejects after `timeoutMs`. */
  waitForTrace(traceId: string, done: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: OtlpAttribute[] }[];
}
interface ExportRequest {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

function plain(attributes: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

/** The spans of one OTLP JSON export request, flattened. */
export function spansOf(body: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = plain(rs.resource?.attributes)["service.name"];
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: plain(s.attributes),
          status: { code: s.status?.code ?? 0, ...(s.status?.message && { message: s.status.message }) },
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: plain(e.attributes) })),
          service: typeof service === "string" ? service : undefined,
        });
      }
    }
  }
  return out;
}

/** Starts a receiver on a free loopback port. `keepSpans: false` only counts (benches). */
export async function startOtlpReceiver(opts: { keepSpans?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = opts.keepSpans ?? true;
  const receiver = { spans: [] as ReceivedSpan[], requests: 0, bytes: 0 };
  const waiters = new Set<() => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url?.split("?")[0] !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      receiver.requests++;
      receiver.bytes += body.length;
      if (keep) {
        try {
          receiver.spans.push(...spansOf(JSON.parse(body.toString("utf8")) as ExportRequest));
        } catch {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ code: 3, message: "not an OTLP JSON export" }));
          return;
        }
        for (const wake of waiters) wake();
      }
      // An empty ExportTraceServiceResponse: everything was accepted.
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get spans() {
      return receiver.spans;
    },
    get requests() {
      return receiver.requests;
    },
    get bytes() {
      return receiver.bytes;
    },
    waitForTrace(traceId, done, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const spans = receiver.spans.filter((s) => s.traceId === traceId);
          if (!done(spans)) return;
          cleanup();
          resolve(spans);
        };
        const timer = setTimeout(() => {
          cleanup();
          const got = receiver.spans.filter((s) => s.traceId === traceId).map((s) => s.name);
          reject(new Error(`trace ${traceId} incomplete after ${timeoutMs} ms; spans so far: ${got.join(", ") || "none"}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
