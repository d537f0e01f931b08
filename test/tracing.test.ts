// W3C trace context through the gateway: a client's `traceparent` is continued (an invalid one
// starts a new trace, never an error), every upstream request carries the trace on, and the log
// lines of a request and of its upstream calls share its trace id. Tracing export is off in this
// project (no OTLP endpoint): the context must travel all the same. (Export: test/node/tracing.test.ts.)
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { MetricsBook } from "../src/telemetry/book";
import { setLogSink } from "../src/telemetry/log";
import { createCovenant } from "./support/covenants";
import { call, KEYS, strike } from "./support/gateway";

interface SeenRequest {
  method: string;
  path: string;
  traceparent: string | null;
}

async function seenBy(emulator: Fetcher, origin: string): Promise<SeenRequest[]> {
  const res = await emulator.fetch(`${origin}/admin/traceparents`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { requests: SeenRequest[] }).requests;
}

const hostedAiSaw = () => seenBy(env.HOSTEDAI, "http://hostedai.test");
const localNodeSaw = () => seenBy(env.LOCAL_NODE, "http://127.0.0.1");

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

let restore: (() => void) | undefined;
afterEach(() => restore?.());

function captureLines(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  restore = setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  return lines;
}

describe("traceparent", () => {
  it("continues the client's trace and sends it on every upstream call, each under a span of its own", async () => {
    const { id } = await createCovenant({ policy: "seed" });
    const traceId = hex(16);
    const clientSpan = hex(8);
    const res = await call("/v1/strikes", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
      body: JSON.stringify({ covenant_id: id, model: "gemma-2b-it", prompt: "trace me", max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-homeskillet-trace-id")).toBe(traceId);
    const { allocation_id } = (await res.json()) as { allocation_id: string };

    const mine = (await hostedAiSaw()).filter((r) => r.traceparent?.includes(traceId));
    const paths = mine.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(expect.arrayContaining(["POST /api/v1/allocations", `POST /api/v1/inference/${allocation_id}`, `DELETE /api/v1/allocations/${allocation_id}`]));
    const parents = mine.map((r) => TRACEPARENT.exec(r.traceparent!));
    for (const m of parents) expect(m, "a well-formed traceparent").not.toBeNull();
    // Sampled as the client asked; each call is a span of its own, none of them the client's.
    expect(new Set(parents.map((m) => m![3]))).toEqual(new Set(["01"]));
    const spans = parents.map((m) => m![2]);
    expect(new Set(spans).size).toBe(spans.length);
    expect(spans).not.toContain(clientSpan);
  });

  it("sends the trace to the local node too", async () => {
    const { id } = await createCovenant({ fallback: ["local"], models: ["mistral-7b"] });
    const traceId = hex(16);
    const res = await call("/v1/strikes", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-${hex(8)}-00` },
      body: JSON.stringify({ covenant_id: id, model: "mistral-7b", prompt: "local trace", max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
    const seen = (await localNodeSaw()).filter((r) => r.path === "/v1/chat/completions" && r.traceparent?.startsWith(`00-${traceId}-`));
    expect(seen).toHaveLength(1);
    // Not sampled by the client: still propagated, still not sampled.
    expect(seen[0]!.traceparent!.endsWith("-00")).toBe(true);
  });

  it.each([
    ["garbage", "not a traceparent"],
    ["an all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["an all-zero parent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ["extra fields on version 00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00"],
    ["a very long value", `00-${"a".repeat(4000)}`],
    ["non-ASCII", "00-4bf92f3577b34da6a3ce929d0e0e47é6-00f067aa0ba902b7-01"],
  ])("starts a new trace for %s, and still answers", async (_what, header) => {
    const res = await call("/v1/strikes", {
      method: "POST",
      headers: { traceparent: header },
      body: JSON.stringify({ model: "gemma-2b-it", prompt: "fresh trace", max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
    const traceId = res.headers.get("x-homeskillet-trace-id")!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toMatch(/^0+$/);
    expect(traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    // The new trace is what the upstream hears.
    const inference = (await hostedAiSaw()).filter((r) => r.path.startsWith("/api/v1/inference/") && r.traceparent?.startsWith(`00-${traceId}-`));
    expect(inference).toHaveLength(1);
  });
});

describe("log lines", () => {
  it("writes one line for the request and one per upstream call, sharing the trace, naming covenant and strike, without secrets", async () => {
    const { id } = await createCovenant({ policy: "seed" });
    const lines = captureLines();
    const traceId = hex(16);
    const prompt = "a secret prompt that must not be logged";
    const res = await call("/v1/strikes", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
      body: JSON.stringify({ covenant_id: id, model: "gemma-2b-it", prompt, max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; allocation_id: string; pool_id: string };
    const mine = lines.filter((l) => l.trace_id === traceId);
    const request = mine.filter((l) => l.kind === "request");
    expect(request).toEqual([
      expect.objectContaining({ method: "POST", path: "/v1/strikes", status: 200, outcome: "ok", tenant: "dev", covenant: id, strike_id: body.id, duration_ms: expect.any(Number) }),
    ]);
    const upstream = mine.filter((l) => l.kind === "upstream");
    const byOp = Object.fromEntries(upstream.map((l) => [l.op, l]));
    const who = { tenant: "dev", covenant: id, strike_id: body.id, provider: "hostedai", outcome: "ok" };
    expect(byOp.allocate).toMatchObject({ ...who, status: 201, target: body.pool_id, allocation_id: body.allocation_id });
    expect(byOp.infer).toMatchObject({ ...who, status: 200, allocation_id: body.allocation_id, model: "gemma-2b-it", prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(byOp.release).toMatchObject({ ...who, status: 200, allocation_id: body.allocation_id, cost_usd: expect.any(Number) });
    for (const l of upstream) expect(l.duration_ms).toEqual(expect.any(Number));
    const raw = JSON.stringify(lines);
    for (const secret of [prompt, KEYS.dev, "test-hostedai-key", "Bearer"]) expect(raw).not.toContain(secret);
  });

  it("writes the prompt and completion only for a covenant that opts in, tied to the trace, cut at 4 KiB", async () => {
    const { id } = await createCovenant({ logging: { content: true } });
    const lines = captureLines();
    const traceId = hex(16);
    const prompt = `Please log this prompt. ${"x".repeat(5000)}`;
    const res = await call("/v1/strikes", {
      method: "POST",
      headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
      body: JSON.stringify({ covenant_id: id, model: "gemma-2b-it", prompt, max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; output: { content: string } };
    const content = lines.filter((l) => l.kind === "strike_content");
    expect(content).toEqual([
      expect.objectContaining({ trace_id: traceId, tenant: "dev", covenant: id, strike_id: body.id, model: "gemma-2b-it", outcome: "ok", completion: body.output.content, truncated: true }),
    ]);
    expect(content[0]!.prompt).toBe(prompt.slice(0, 4096));
    // Off again: nothing but the usual lines, which never carry the prompt.
    expect((await call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify({ logging: { content: false } }) })).status).toBe(200);
    lines.length = 0;
    expect((await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "Please log this prompt too.", max_tokens: 8 })).status).toBe(200);
    expect(lines.some((l) => l.kind === "strike_content")).toBe(false);
    expect(JSON.stringify(lines)).not.toContain("Please log this prompt too.");
  });

  it("annotates the line of a failed strike with its covenant, strike id and error type, on every strike route", async () => {
    const lines = captureLines();
    const res = await strike({ covenant_id: "no-such-covenant", model: "gemma-2b-it", prompt: "x" });
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { strike_id: string } };
    const openai = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": "no-such-covenant" },
      body: JSON.stringify({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }] }),
    });
    expect(openai.status).toBe(404);
    const requests = lines.filter((l) => l.kind === "request");
    expect(requests).toEqual([
      expect.objectContaining({ path: "/v1/strikes", status: 404, covenant: "no-such-covenant", strike_id: error.strike_id, error_type: "covenant_not_found" }),
      expect.objectContaining({ path: "/v1/chat/completions", status: 404, covenant: "no-such-covenant", strike_id: expect.stringMatching(/^str_/), error_type: expect.any(String) }),
    ]);
  });
});

describe("the metrics switch", () => {
  it("records nothing when the operator turned metrics off", async () => {
    const stub = env.METRICS_INDEX.get(env.METRICS_INDEX.idFromName(`book-off-${crypto.randomUUID()}`));
    await runInDurableObject(stub, async (_obj, ctx) => {
      const registered: string[] = [];
      const book = new MetricsBook(ctx.storage.sql, { objectName: () => "dev:c1", register: async (n) => void registered.push(n), gauges: () => null, recording: false });
      book.strikeFinished({ tenant: "dev", covenant: "c1", model: "mistral-7b", pool: "p", outcome: "ok", allocated: true, allocateMs: 1, inferMs: 2, costUsd: 0.1, promptTokens: 1, completionTokens: 1 });
      book.leaseReleased({ pool: "p", busyMs: 1, heldMs: 2 });
      book.attemptFailed({ target: "p", type: "timeout" });
      await book.settled();
      expect(book.snapshot().metrics).toEqual({});
      expect(ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM metric_series").one().n).toBe(0);
      expect(registered).toEqual([]);
    });
  });
});
