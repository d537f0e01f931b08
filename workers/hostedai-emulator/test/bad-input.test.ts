import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { allocateOk, call, issueToken, resetCluster } from "./harness";

let token: string;
let allocationId: string;

beforeAll(async () => {
  await resetCluster();
  token = await issueToken();
  allocationId = (await allocateOk(token, { min_vram_mb: 16384, min_tflops: 20 })).allocation_id;
});

/** A 4xx answer in the contract's error format. */
function expectClientError(reply: { status: number; body: any }): void {
  expect(reply.status).toBeGreaterThanOrEqual(400);
  expect(reply.status).toBeLessThan(500);
  expect(typeof reply.body.error.type).toBe("string");
  expect(typeof reply.body.error.message).toBe("string");
}

/** Any answer but a server error; errors still in the contract's format. */
function expectNoServerError(reply: { status: number; body: any }): void {
  if (reply.status === 503) expect(reply.body.error.type).toBe("capacity_exhausted");
  else expect(reply.status).toBeLessThan(500);
  if (reply.status >= 400) expect(typeof reply.body.error.type).toBe("string");
}

const POST_ROUTES = () => [
  { path: "/api/v1/auth/token", token: undefined },
  { path: "/api/v1/allocations", token },
  { path: `/api/v1/inference/${allocationId}`, token },
];

const anyNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 1e308, -0.5, 2 ** 53));
const anything = fc.oneof(fc.jsonValue(), anyNumber, fc.string());
const allocationLike = fc.record(
  {
    pool_id: fc.oneof(fc.constantFrom("standard-us-east", "premium-us-east", "nope"), anything),
    requirements: fc.oneof(
      fc.record(
        { min_tflops: fc.oneof(anyNumber, anything), min_vram_mb: fc.oneof(anyNumber, anything), max_vram_mb: anyNumber },
        { requiredKeys: [] },
      ),
      anything,
    ),
    duration_seconds: fc.oneof(anyNumber, anything),
    preemptible: fc.oneof(fc.boolean(), anything),
    metadata: fc.oneof(fc.dictionary(fc.string(), fc.string()), anything),
  },
  { requiredKeys: [] },
);
const inferenceLike = fc.record(
  {
    model: fc.oneof(fc.constantFrom("mistral-7b", "qwen-70b", "gpt-9"), anything),
    prompt: fc.oneof(fc.string(), anything),
    max_tokens: fc.oneof(fc.integer({ min: -5, max: 20 }), anything),
    temperature: fc.oneof(fc.double({ min: -1, max: 3, noNaN: true }), anything),
  },
  { requiredKeys: [] },
);

describe("bad input never yields a server error", () => {
  it("random JSON bodies on every POST route", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_ROUTES()), fc.jsonValue(), async (route, body) => {
        expectNoServerError(await call("POST", route.path, { token: route.token, body }));
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it("random raw bytes on every POST route", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_ROUTES()), fc.string({ unit: "binary" }), async (route, raw) => {
        expectNoServerError(await call("POST", route.path, { token: route.token, rawBody: raw }));
      }),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it("random JSON bodies on /admin/config", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.jsonValue(), fc.record({ latency_scale: anything, time_scale: anything }, { requiredKeys: [] })),
        async (body) => {
          expectNoServerError(await call("POST", "/admin/config", { body }));
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
    // A random body may have slowed the cluster down: later properties need it at test speed.
    await resetCluster();
    token = await issueToken();
    allocationId = (await allocateOk(token, { min_vram_mb: 16384, min_tflops: 20 })).allocation_id;
  });

  it("allocation-shaped bodies with wrong types and values", async () => {
    await fc.assert(
      fc.asyncProperty(allocationLike, async (body) => {
        const reply = await call("POST", "/api/v1/allocations", { token, body });
        expectNoServerError(reply);
        if (reply.status === 400) expect(typeof reply.body.error.param).toBe("string");
        if (reply.status === 201) await call("DELETE", `/api/v1/allocations/${reply.body.allocation_id}`, { token });
      }),
      { numRuns: 200, endOnFailure: true },
    );
  });

  it("inference-shaped bodies with wrong types and values", async () => {
    await fc.assert(
      fc.asyncProperty(inferenceLike, async (body) => {
        const reply = await call("POST", `/api/v1/inference/${allocationId}`, { token, body });
        expectNoServerError(reply);
        if (reply.status === 400) expect(typeof reply.body.error.param).toBe("string");
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it("random allocation ids in paths", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.constantFrom("GET", "DELETE"), async (id, method) => {
        const reply = await call(method, `/api/v1/allocations/${encodeURIComponent(id)}`, { token });
        expectClientError(reply);
      }),
      { numRuns: 100, endOnFailure: true },
    );
  });
});

describe("validation names the field", () => {
  const base = { pool_id: "standard-us-east", requirements: { min_tflops: 10, min_vram_mb: 6144 }, duration_seconds: 60, preemptible: false };

  it.each([
    [{ ...base, requirements: { min_tflops: 10, min_vram_mb: -1 } }, "requirements.min_vram_mb"],
    [{ ...base, requirements: { min_tflops: "ten", min_vram_mb: 6144 } }, "requirements.min_tflops"],
    [{ ...base, requirements: { min_tflops: 10, min_vram_mb: 6144, max_vram_mb: 1024 } }, "requirements.max_vram_mb"],
    [{ ...base, duration_seconds: -60 }, "duration_seconds"],
    [{ ...base, duration_seconds: 1.5 }, "duration_seconds"],
    [{ ...base, preemptible: "no" }, "preemptible"],
    [{ ...base, pool_id: 7 }, "pool_id"],
    [{ ...base, metadata: { team: 3 } }, "metadata.team"],
    [{ ...base, requirements: undefined }, "requirements"],
    [[base], "body"],
  ])("allocation body %# → param %s", async (body, param) => {
    const reply = await call("POST", "/api/v1/allocations", { token, body });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ type: "invalid_request", param });
  });

  it.each([
    [{ model: "mistral-7b", prompt: "hi", max_tokens: 0 }, "max_tokens"],
    [{ model: "mistral-7b", prompt: "hi", max_tokens: 100_000 }, "max_tokens"],
    [{ model: "mistral-7b", prompt: "hi", temperature: -0.1 }, "temperature"],
    [{ model: "mistral-7b", prompt: 42 }, "prompt"],
    [{ prompt: "hi" }, "model"],
  ])("inference body %# → param %s", async (body, param) => {
    const reply = await call("POST", `/api/v1/inference/${allocationId}`, { token, body });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatchObject({ type: "invalid_request", param });
  });

  it("rejects malformed JSON and an empty body naming the body", async () => {
    for (const rawBody of ["{\"pool_id\":", ""]) {
      const reply = await call("POST", "/api/v1/allocations", { token, rawBody });
      expect(reply.status).toBe(400);
      expect(reply.body.error).toMatchObject({ type: "invalid_request", param: "body" });
    }
  });

  it("refuses a body over 1 MB with 413", async () => {
    const prompt = "x".repeat(1024 * 1024);
    const reply = await call("POST", `/api/v1/inference/${allocationId}`, {
      token,
      body: { model: "mistral-7b", prompt, max_tokens: 8, temperature: 0 },
    });
    expect(reply.status).toBe(413);
    expect(reply.body.error).toMatchObject({ type: "payload_too_large", param: "body" });
  });

  it("answers unknown routes and methods with 404 JSON", async () => {
    for (const [method, path] of [["GET", "/"], ["GET", "/api/v2/pools"], ["PUT", "/admin/allocations"], ["GET", "/admin/nothing"]] as const) {
      const reply = await call(method, path, { token });
      expect(reply.status).toBe(404);
      expect(reply.body.error.type).toBe("not_found");
    }
  });
});
