// Structured log lines: W3C trace context, one request line with the fields an operator needs and
// nothing secret, and one line per upstream call under the same trace.
import { context } from "@opentelemetry/api";
import { Hono } from "hono";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { annotate, annotateRequest, configureLogging, pathOf, requestLogger, setLogSink, traceFrom, traceparent } from "../src/telemetry/log";
import { withWho } from "../src/telemetry/tracing";
import { logLevelFrom, writesLine } from "../src/telemetry/log-level";
import { sseEvents, streamEventNote, type UpstreamStreamEvent } from "../src/providers/stream";
import { tracedUpstream, tracedUpstreamStream } from "../src/telemetry/upstream";

const PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  configureLogging({});
});

function capture(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  restore = setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  return lines;
}

describe("trace context", () => {
  it("continues a valid traceparent with a new span of its own", () => {
    const t = traceFrom(PARENT);
    expect(t).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanId: "00f067aa0ba902b7", sampled: true });
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe("00f067aa0ba902b7");
    expect(traceparent(t)).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${t.spanId}-01`);
  });

  it.each([
    undefined,
    "garbage",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
  ])("starts a new trace for %s", (header) => {
    const t = traceFrom(header);
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(t.parentSpanId).toBeUndefined();
  });
});

describe("request lines", () => {
  function app() {
    const a = new Hono<{ Variables: { tenant: string } }>();
    a.use("*", requestLogger);
    a.post("/v1/strikes", async (c) => {
      c.set("tenant", "acme");
      annotate(c.req.raw, { covenant: "fast" });
      // Code with no Request in reach (the strike service) annotates through the active context.
      annotateRequest({ strike_id: "str_1" });
      // Inside a covenant object, its spans say who the work is for; here the test says it.
      const upstream = await context.with(withWho(context.active(), { tenant: "acme", covenant: "fast", strikeId: "str_1" }), () =>
        tracedUpstream({ provider: "hostedai", op: "infer", allocationId: "alloc_1" }, async (call) => {
          call.status(200);
          return { sent: call.traceparent, usage: { prompt_tokens: 3, completion_tokens: 5 } };
        }, (r) => ({ promptTokens: r.usage.prompt_tokens, completionTokens: r.usage.completion_tokens })),
      );
      return c.json({ ok: true, sent: upstream.sent });
    });
    a.get("/boom", (c) => c.json({ error: { type: "capacity_exhausted", message: "full" } }, 503));
    return a;
  }

  it("writes one line per request and per upstream call, sharing the client's trace id, without secrets or prompt text", async () => {
    const lines = capture();
    const res = await app().request("/v1/strikes?key=sk-secret-query", {
      method: "POST",
      headers: { traceparent: PARENT, authorization: "Bearer sk-secret-header", "content-type": "application/json" },
      body: JSON.stringify({ prompt: "my private prompt" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-homeskillet-trace-id")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(lines.map((l) => l.kind)).toEqual(["upstream", "request"]);
    const [up, req] = lines as [Record<string, unknown>, Record<string, unknown>];
    expect(req).toMatchObject({ trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", method: "POST", path: "/v1/strikes", status: 200, outcome: "ok", tenant: "acme", covenant: "fast", strike_id: "str_1" });
    expect(req.duration_ms).toEqual(expect.any(Number));
    expect(up).toMatchObject({
      trace_id: req.trace_id, tenant: "acme", covenant: "fast", strike_id: "str_1", provider: "hostedai", op: "infer",
      status: 200, outcome: "ok", allocation_id: "alloc_1", prompt_tokens: 3, completion_tokens: 5,
    });
    expect(up.span_id).not.toBe(req.span_id);
    // The upstream is told the same trace, with the call's own span as parent.
    expect(((await res.json()) as { sent: string }).sent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${up.span_id}-01`);
    const raw = JSON.stringify(lines);
    for (const secret of ["sk-secret-header", "sk-secret-query", "my private prompt", "Bearer"]) expect(raw).not.toContain(secret);
  });

  it("records the error type of a failed request and of a failed upstream call", async () => {
    const lines = capture();
    const res = await app().request("/boom");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("capacity_exhausted");
    expect(lines).toEqual([expect.objectContaining({ kind: "request", status: 503, outcome: "error", error_type: "capacity_exhausted" })]);

    const failure = Object.assign(new Error("gone"), { status: 404, type: "allocation_not_found" });
    await expect(tracedUpstream({ provider: "hostedai", op: "release" }, async () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(tracedUpstream({ provider: "localnode", op: "infer" }, async () => Promise.reject(new TypeError("network")))).rejects.toThrow("network");
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({ kind: "upstream", op: "release", status: 404, outcome: "client_error", error_type: "allocation_not_found" }),
      expect.objectContaining({ kind: "upstream", op: "infer", status: 0, outcome: "error", error_type: "exception" }),
    ]);
  });

  describe("HOMESKILLET_LOG_LEVEL", () => {
    const strike = { method: "POST", headers: { "content-type": "application/json" }, body: "{}" };

    it("writes every line at info, the default, and for a value it does not know", async () => {
      for (const env of [{}, { HOMESKILLET_LOG_LEVEL: "info" }, { HOMESKILLET_LOG_LEVEL: "verbose" }]) {
        const lines = capture();
        expect((await app().request("/v1/strikes", strike, env)).status).toBe(200);
        expect(lines.map((l) => l.kind)).toEqual(["upstream", "request"]);
      }
    });

    it("at warn writes only what failed: a 4xx/5xx request, a failed upstream call", async () => {
      const lines = capture();
      const warn = { HOMESKILLET_LOG_LEVEL: " WARN " };
      expect((await app().request("/v1/strikes", strike, warn)).status).toBe(200);
      expect((await app().request("/boom", {}, warn)).status).toBe(503);
      expect((await app().request("/nowhere", {}, warn)).status).toBe(404);
      expect(lines.map((l) => [l.kind, l.status])).toEqual([["request", 503], ["request", 404]]);

      // The covenant object configures itself from its env when it starts.
      configureLogging(warn);
      await tracedUpstream({ provider: "hostedai", op: "infer" }, async (call) => call.status(200));
      const failure = Object.assign(new Error("gone"), { status: 404, type: "allocation_not_found" });
      await expect(tracedUpstream({ provider: "hostedai", op: "release" }, async () => Promise.reject(failure))).rejects.toBe(failure);
      expect(lines.slice(2)).toEqual([expect.objectContaining({ kind: "upstream", op: "release", outcome: "client_error" })]);
    });

    it("keeps a covenant's opted-in content lines at warn, not at off", () => {
      expect(writesLine("warn", "strike_content", "ok")).toBe(true);
      expect(writesLine("off", "strike_content", "error")).toBe(false);
      expect(logLevelFrom(undefined)).toBe("info");
    });

    it("at off writes nothing, failures included", async () => {
      const lines = capture();
      expect((await app().request("/boom", {}, { HOMESKILLET_LOG_LEVEL: "off" })).status).toBe(503);
      configureLogging({ HOMESKILLET_LOG_LEVEL: "off" });
      await expect(tracedUpstream({ provider: "localnode", op: "infer" }, async () => Promise.reject(new TypeError("network")))).rejects.toThrow("network");
      expect(lines).toEqual([]);
    });
  });

  describe("a streamed upstream call", () => {
    /** An upstream's server-sent events: each token, then the final event with usage and cost, or the body ends, or it stays open. */
    const body = (tokens: string[], end: "done" | "cut" | "open") => {
      const events = tokens.map((t) => `event: token\ndata: ${JSON.stringify({ text: t })}\n\n`);
      if (end === "done") events.push(`event: done\ndata: ${JSON.stringify({ prompt_tokens: 7, completion_tokens: tokens.length, cost_usd: 0.25 })}\n\n`);
      const encoder = new TextEncoder();
      return new ReadableStream<Uint8Array>({
        start(controller) {
          // Split mid-event, as a network would.
          const text = events.join("");
          controller.enqueue(encoder.encode(text.slice(0, 13)));
          controller.enqueue(encoder.encode(text.slice(13)));
          if (end !== "open") controller.close();
        },
      });
    };
    const map = (m: { event?: string; data: string }): UpstreamStreamEvent[] => {
      const d = JSON.parse(m.data) as { text?: string; prompt_tokens?: number; completion_tokens?: number; cost_usd?: number };
      if (m.event === "token") return [{ type: "token", text: d.text! }];
      const usage = { prompt_tokens: d.prompt_tokens!, completion_tokens: d.completion_tokens!, total_tokens: d.prompt_tokens! + d.completion_tokens! };
      return [{ type: "done", finishReason: "stop", usage, costUsd: d.cost_usd }];
    };
    const open = (tokens: string[], end: "done" | "cut" | "open") =>
      tracedUpstreamStream({ provider: "hostedai", op: "infer", allocationId: "alloc_1" }, async (call, hooks) => {
        call.status(200);
        return sseEvents(body(tokens, end), map, hooks);
      }, streamEventNote);
    const readAll = async (stream: ReadableStream<UpstreamStreamEvent>) => {
      const out: UpstreamStreamEvent[] = [];
      const reader = stream.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
      return out;
    };

    it("ends its line with the final event: tokens and cost as the upstream said them", async () => {
      const lines = capture();
      const events = await readAll(await open(["a", "b", "c"], "done"));
      expect(events.map((e) => e.type)).toEqual(["token", "token", "token", "done"]);
      expect(events.filter((e) => e.type === "token").map((e) => (e as { text: string }).text).join("")).toBe("abc");
      expect(lines).toEqual([expect.objectContaining({ kind: "upstream", op: "infer", status: 200, outcome: "ok", prompt_tokens: 7, completion_tokens: 3, cost_usd: 0.25 })]);
      expect(lines[0]!.error_type).toBeUndefined();
    });

    it("calls a stream that ended without its final event cut, and one its reader let go before the end cancelled", async () => {
      const lines = capture();
      await readAll(await open(["a", "b"], "cut"));
      const stream = await open(["a", "b"], "open");
      const reader = stream.getReader();
      expect((await reader.read()).value).toEqual({ type: "token", text: "a" });
      await reader.cancel();
      expect(lines).toEqual([
        expect.objectContaining({ kind: "upstream", op: "infer", error_type: "stream_cut" }),
        expect.objectContaining({ kind: "upstream", op: "infer", error_type: "cancelled" }),
      ]);
    });
  });
});

describe("pathOf", () => {
  it("is the URL's pathname, percent-encoding and all, for any URL the runtime hands over", () => {
    const odd = fc.constantFrom("/", "//", "%2F", "%zz", "?", "#", ";", "@", ":", "..", ".", "é", " ", "\\");
    const segment = fc.array(fc.oneof(fc.string({ maxLength: 6 }), odd), { maxLength: 4 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.array(segment, { maxLength: 4 }), (base, extra) => {
        const url = new URL(base + (extra.length ? "/" + extra.join("/") : "")).href;
        expect(pathOf(url)).toBe(new URL(url).pathname);
      }),
      { numRuns: 2000 },
    );
  });
});
