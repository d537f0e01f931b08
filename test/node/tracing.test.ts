// End to end: the whole system with tracing on, exporting over OTLP/HTTP to a real receiver on
// loopback. One strike must arrive as one trace — edge → classify, edge → covenant → attempt →
// allocate / infer / release — under the client's trace id, with the attributes operators query.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../../bench/lib/otlp-receiver.ts";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";

const DEV_KEY = "hsk_node_tracing_0001";
const COVENANT = "traced-seed";
const PROMPT = "Name three primary colours. (a private prompt)";
const SERVER = 2; // OTLP SpanKind
const CLIENT = 3;

let receiver: OtlpReceiver;
let system: LocalSystem;

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(system.gateway + path, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name), `spans named ${name}`).toEqual([name]);
  return found[0]!;
}

const hasAll = (names: string[]) => (spans: ReceivedSpan[]) => names.every((n) => spans.some((s) => s.name === n || s.name.startsWith(n)));

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  system = await startSystem({
    mode: "miniflare",
    ports: { gateway: 0, hostedai: 0, localNode: 0 },
    persist: false,
    quiet: true,
    devKey: DEV_KEY,
    gatewayVars: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "homeskillet-e2e" },
  });
  // The seed policy allocates, infers and releases within each strike: all three in one trace.
  const created = await post("/v1/covenants", { id: COVENANT, policy: "seed" });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await system?.stop();
  await receiver?.close();
});

describe("traces exported over OTLP/HTTP", () => {
  it("exports one trace per strike, under the client's trace id, with the expected tree and attributes", async () => {
    const traceId = hex(16);
    const clientSpan = hex(8);
    const res = await post("/v1/strikes", { covenant_id: COVENANT, model: "gemma-2b-it", prompt: PROMPT, max_tokens: 16 }, { traceparent: `00-${traceId}-${clientSpan}-01` });
    const body = (await res.json()) as { id: string; allocation_id: string; pool_id: string; usage: { prompt_tokens: number; completion_tokens: number }; cost_usd: number };
    expect(res.status).toBe(200);
    expect(res.headers.get("x-homeskillet-trace-id")).toBe(traceId);

    const spans = await receiver.waitForTrace(traceId, hasAll(["POST /v1/strikes", "classify", "covenant strike", "attempt", "hostedai allocate", "hostedai infer", "hostedai release"]));
    const edge = one(spans, "POST /v1/strikes");
    const classify = one(spans, "classify");
    const covenant = one(spans, "covenant strike");
    const attempt = one(spans, `attempt ${body.pool_id}`);
    const allocate = one(spans, "hostedai allocate");
    const infer = one(spans, "hostedai infer");
    const release = one(spans, "hostedai release");

    // The tree: the client's span → edge → (classify, covenant → attempt → upstream calls). A plain
    // strike is the covenant's span; only fusion fragments get spans of their own in between.
    expect(edge).toMatchObject({ parentSpanId: clientSpan, kind: SERVER, service: "homeskillet-e2e" });
    expect(classify.parentSpanId).toBe(edge.spanId);
    expect(covenant.parentSpanId).toBe(edge.spanId);
    expect(attempt.parentSpanId).toBe(covenant.spanId);
    expect(spans.some((s) => s.name === "strike" || s.name === "fragment")).toBe(false);
    for (const call of [allocate, infer, release]) expect(call).toMatchObject({ parentSpanId: attempt.spanId, kind: CLIENT });
    // Nothing in the trace floats free: every parent is in it, except the client's span.
    const ids = new Set(spans.map((s) => s.spanId));
    expect(spans.filter((s) => s.parentSpanId !== clientSpan && !ids.has(s.parentSpanId!)).map((s) => s.name)).toEqual([]);

    expect(edge.attributes).toMatchObject({
      "http.request.method": "POST", "http.route": "/v1/strikes", "http.response.status_code": 200,
      "homeskillet.tenant": "dev", "homeskillet.covenant": COVENANT, "homeskillet.strike_id": body.id,
    });
    expect(classify.attributes).toMatchObject({ "homeskillet.classify.label": expect.any(String), "gen_ai.usage.input_tokens": expect.any(Number) });
    expect(covenant.attributes).toMatchObject({
      "homeskillet.tenant": "dev", "homeskillet.covenant": COVENANT,
      "homeskillet.strike_id": body.id, "gen_ai.response.model": "gemma-2b-it", "homeskillet.pool": body.pool_id,
      "homeskillet.allocation_id": body.allocation_id, "homeskillet.lease_reused": false,
      "gen_ai.usage.input_tokens": body.usage.prompt_tokens, "gen_ai.usage.output_tokens": body.usage.completion_tokens, "homeskillet.cost_usd": body.cost_usd,
    });
    expect(attempt.attributes).toMatchObject({ "homeskillet.target": body.pool_id, "homeskillet.retry_count": 0, "homeskillet.breaker_state": "closed", "homeskillet.allocation_id": body.allocation_id });
    expect(allocate.attributes).toMatchObject({ "homeskillet.pool": body.pool_id, "homeskillet.allocation_id": body.allocation_id, "http.response.status_code": 201 });
    expect(infer.attributes).toMatchObject({
      "homeskillet.allocation_id": body.allocation_id, "gen_ai.request.model": "gemma-2b-it",
      "gen_ai.usage.input_tokens": expect.any(Number), "gen_ai.usage.output_tokens": body.usage.completion_tokens,
    });
    expect(release.attributes).toMatchObject({ "homeskillet.allocation_id": body.allocation_id, "homeskillet.cost_usd": expect.any(Number) });
    for (const s of spans) expect(s.endNs >= s.startNs, s.name).toBe(true);
    // Prompts and keys never reach a trace.
    const raw = JSON.stringify(spans, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    for (const secret of [PROMPT, "a private prompt", DEV_KEY, "dev-hostedai-key"]) expect(raw).not.toContain(secret);

    // The upstream was told the trace, with the call's own span as parent.
    const seen = (await (await fetch(`${system.hostedai}/admin/traceparents`)).json()) as { requests: { method: string; path: string; traceparent: string | null }[] };
    const inference = seen.requests.filter((r) => r.path === `/api/v1/inference/${body.allocation_id}`);
    expect(inference.map((r) => r.traceparent)).toEqual([`00-${traceId}-${infer.spanId}-01`]);
  });

  it("starts a new trace for an invalid traceparent, and traces a streamed strike until its stream ends", async () => {
    const res = await post(
      "/v1/chat/completions",
      { model: "gemma-2b-it", messages: [{ role: "user", content: "Say hello." }], max_tokens: 8, stream: true },
      { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "x-homeskillet-covenant": COVENANT },
    );
    expect(res.status).toBe(200);
    const traceId = res.headers.get("x-homeskillet-trace-id")!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe("00000000000000000000000000000000");
    expect(await res.text()).toContain("data: [DONE]");

    const spans = await receiver.waitForTrace(traceId, hasAll(["POST /v1/chat/completions", "covenant strike stream", "hostedai infer"]));
    const edge = one(spans, "POST /v1/chat/completions");
    expect(edge.parentSpanId).toBeUndefined();
    const stream = one(spans, "covenant strike stream");
    expect(stream.parentSpanId).toBe(edge.spanId);
    const infer = one(spans, "hostedai infer");
    // The streamed call's span lasts until its final event, and learnt the usage from it.
    expect(infer.attributes).toMatchObject({ "gen_ai.usage.output_tokens": expect.any(Number), "http.response.status_code": 200 });
    expect(infer.status.code).not.toBe(2);
  });

  it("gives each fragment of a fused strike a span under the covenant's, with its attempts beneath", async () => {
    const traceId = hex(16);
    const res = await post(
      "/v1/strikes",
      { prompt: "1. What is the capital of Australia?\n2. Write a Python function that checks for primes.", fusion: { strategy: "split" }, max_tokens: 16 },
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    const body = (await res.json()) as { fusion: { fragments: { id: string; status: string }[] } };
    expect(res.status).toBe(200);
    const ran = body.fusion.fragments.filter((f) => f.status === "ok").map((f) => f.id);
    expect(ran.length).toBeGreaterThanOrEqual(2);
    const spans = await receiver.waitForTrace(traceId, (ss) => ss.filter((x) => x.name === "fragment").length >= ran.length && ss.some((x) => x.name === "covenant strike"));
    const covenant = one(spans, "covenant strike");
    const fragments = spans.filter((x) => x.name === "fragment");
    expect(fragments.map((f) => f.attributes["homeskillet.fragment_id"]).sort()).toEqual([...ran].sort());
    for (const f of fragments) {
      expect(f.parentSpanId).toBe(covenant.spanId);
      expect(spans.some((x) => x.name.startsWith("attempt ") && x.parentSpanId === f.spanId), `an attempt under ${f.attributes["homeskillet.fragment_id"]}`).toBe(true);
    }
    expect(covenant.attributes).toMatchObject({ "homeskillet.fusion.strategy": "split", "homeskillet.cache_hits": 0 });
  });

  it("never puts an issued key in a span: issuing, using and revoking one", async () => {
    const issued = await post("/v1/keys", { name: "traced", scopes: ["strike", "keys"] });
    expect(issued.status).toBe(201);
    const { key, id } = (await issued.json()) as { key: string; id: string };
    const traceIds = [hex(16), hex(16), hex(16)];
    const strikeRes = await fetch(`${system.gateway}/v1/strikes`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", traceparent: `00-${traceIds[0]}-${hex(8)}-01` },
      body: JSON.stringify({ covenant_id: COVENANT, model: "gemma-2b-it", prompt: "trace my key?", max_tokens: 4 }),
    });
    expect(strikeRes.status).toBe(200);
    const revoke = await fetch(`${system.gateway}/v1/keys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${key}`, traceparent: `00-${traceIds[1]}-${hex(8)}-01` } });
    expect(revoke.status).toBe(200);
    const refused = await fetch(`${system.gateway}/v1/models`, { headers: { authorization: `Bearer ${key}`, traceparent: `00-${traceIds[2]}-${hex(8)}-01` } });
    expect(refused.status).toBe(401);
    const spans = [
      ...(await receiver.waitForTrace(traceIds[0]!, hasAll(["POST /v1/strikes", "hostedai infer"]))),
      ...(await receiver.waitForTrace(traceIds[1]!, (ss) => ss.length > 0)),
      ...(await receiver.waitForTrace(traceIds[2]!, (ss) => ss.length > 0)),
    ];
    const raw = JSON.stringify(spans, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    // Who asked is there, by key id.
    expect(spans.find((x) => x.name === "POST /v1/strikes")?.attributes["homeskillet.key_id"]).toBe(id);
    expect(raw).not.toContain(key);
    expect(raw).not.toContain(key.slice(key.indexOf(".") + 1));
  });
});
