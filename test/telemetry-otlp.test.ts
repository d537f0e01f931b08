// The OTLP export pieces on their own: configuration from env, the JSON exporter against a
// recording fetch, and the processor's batching (spans of requests ending together share a POST).
import { describe, expect, it } from "vitest";
import { TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { ExportOnFlushProcessor, OtlpJsonExporter, parseOtlpHeaders } from "../src/telemetry/otlp";
import { tracesUrl } from "../src/telemetry/tracing";

/** Spans made by a private provider (the global one is not touched), handed to `processor`. */
function spanMaker(processor: ExportOnFlushProcessor) {
  const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer("test");
  return (name: string) => tracer.startSpan(name, { attributes: { "homeskillet.tenant": "acme" } }).end();
}

function recordingFetch(status = 200) {
  const posts: { url: string; headers: Headers; body: { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] } }[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    posts.push({ url, headers: new Headers(init.headers), body: JSON.parse(new TextDecoder().decode(init.body as Uint8Array)) });
    return new Response("{}", { status });
  }) as unknown as typeof fetch;
  const names = () => posts.map((p) => p.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))));
  return { posts, fetcher, names };
}

describe("configuration", () => {
  it("exports to <endpoint>/v1/traces, or to the traces endpoint as given, and is off otherwise", () => {
    expect(tracesUrl({})).toBeUndefined();
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " })).toBeUndefined();
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" })).toBe("http://127.0.0.1:4318/v1/traces");
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://b/traces" })).toBe("https://b/traces");
    // An unusable endpoint turns tracing off rather than failing requests.
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" })).toBeUndefined();
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector" })).toBeUndefined();
  });

  it("reads OTEL_EXPORTER_OTLP_HEADERS as percent-encoded key=value pairs", () => {
    expect(parseOtlpHeaders("x-api-key=abc%3D%3D, X-Team = blue ,broken,=nokey")).toEqual({ "x-api-key": "abc==", "x-team": "blue" });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });
});

describe("OtlpJsonExporter", () => {
  it("posts an OTLP JSON export request with the configured headers, and reports failures without throwing", async () => {
    const ok = recordingFetch();
    const processor = new ExportOnFlushProcessor(new OtlpJsonExporter({ url: "http://collector/v1/traces", headers: { "x-api-key": "k" }, fetch: ok.fetcher }), { delayMs: 0 });
    const make = spanMaker(processor);
    make("one");
    await processor.exportSoon();
    expect(ok.posts).toHaveLength(1);
    expect(ok.posts[0]!.url).toBe("http://collector/v1/traces");
    expect(ok.posts[0]!.headers.get("content-type")).toBe("application/json");
    expect(ok.posts[0]!.headers.get("x-api-key")).toBe("k");
    expect(ok.names()).toEqual([["one"]]);

    const down = new OtlpJsonExporter({ url: "http://collector/v1/traces", headers: {}, fetch: (async () => Promise.reject(new TypeError("refused"))) as unknown as typeof fetch });
    const spans: ReadableSpan[] = [];
    const tracer = new TracerProvider({ spanProcessors: [{ onStart() {}, onEnd: (s) => void spans.push(s), forceFlush: async () => {}, shutdown: async () => {} }] }).getTracer("t");
    tracer.startSpan("lost").end();
    const result = await down.send(spans);
    expect(result.code).toBe(1); // ExportResultCode.FAILED
    const refused = new OtlpJsonExporter({ url: "http://collector/v1/traces", headers: {}, fetch: recordingFetch(503).fetcher });
    expect((await refused.send(spans)).code).toBe(1);
  });
});

describe("ExportOnFlushProcessor", () => {
  it("sends the spans of calls that end within the delay in one export, and a full batch at once", async () => {
    const rec = recordingFetch();
    const processor = new ExportOnFlushProcessor(new OtlpJsonExporter({ url: "http://c/v1/traces", headers: {}, fetch: rec.fetcher }), { delayMs: 20, maxBatch: 4 });
    const make = spanMaker(processor);
    make("a");
    const first = processor.exportSoon();
    make("b");
    const second = processor.exportSoon();
    expect(second).toBe(first); // the same scheduled export
    await Promise.all([first, second]);
    expect(rec.names()).toEqual([["a", "b"]]);

    for (const n of ["c", "d", "e", "f"]) make(n);
    await processor.exportSoon(); // four spans are a full batch: no waiting
    expect(rec.names().at(-1)).toEqual(["c", "d", "e", "f"]);
  });

  it("keeps at most one export in flight and sends what ended meanwhile in the next, never chasing each new span", async () => {
    let release: () => void = () => {};
    const sent: number[] = [];
    const exporter = {
      send: async (spans: ReadableSpan[]) => {
        sent.push(spans.length);
        await new Promise<void>((r) => (release = r));
        return { code: 0 };
      },
    };
    const processor = new ExportOnFlushProcessor(exporter, { delayMs: 0 });
    const make = spanMaker(processor);
    make("a");
    const first = processor.forceFlush();
    for (const n of ["b", "c", "d"]) make(n);
    const second = processor.forceFlush();
    const third = processor.forceFlush();
    expect(third).toBe(second);
    expect(sent).toEqual([1]);
    release();
    await first;
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual([1, 3]);
    release();
    await second;
    await processor.forceFlush(); // nothing left: resolves at once
    expect(sent).toEqual([1, 3]);
  });

  it("keeps each pending export alive once: calls that end while it is pending join it, and all their spans go with it", async () => {
    const rec = recordingFetch();
    const processor = new ExportOnFlushProcessor(new OtlpJsonExporter({ url: "http://c/v1/traces", headers: {}, fetch: rec.fetcher }), { delayMs: 20 });
    const make = spanMaker(processor);
    const keptAlive: Promise<unknown>[] = [];
    const call = { waitUntil: (p: Promise<unknown>) => void keptAlive.push(p) };
    for (const n of ["a", "b", "c"]) {
      make(n);
      processor.exportAfter(call);
    }
    expect(keptAlive).toHaveLength(1);
    await Promise.all(keptAlive);
    expect(rec.names()).toEqual([["a", "b", "c"]]);
    // The next call after that export is a new export: kept alive again.
    make("d");
    processor.exportAfter(call);
    expect(keptAlive).toHaveLength(2);
    await keptAlive[1];
    expect(rec.names()).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("drops spans beyond its buffer rather than growing without bound, and skips unsampled ones", async () => {
    const processor = new ExportOnFlushProcessor({ send: async () => ({ code: 0 }) }, { maxBatch: 2, maxBuffered: 2, delayMs: 1000 });
    const make = spanMaker(processor);
    for (const n of ["a", "b", "c"]) make(n);
    expect(processor.dropped).toBe(1);
    await processor.forceFlush();
  });
});
