// Injected faults on the node: each kind, nothing booked on the device by an injected failure,
// reproducibility from the seed, a cut stream that never finishes, and configuration validation.
import { runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { LocalDevice } from "../src/device";
import { faultsFromEnv } from "../src/fault-ledger";
import { call, env, hello, postJson, postWithin, resetDevice, setFaults, sseData, stats } from "./helpers";

beforeEach(() => resetDevice());

const chat = (body: Record<string, unknown> = {}) => postJson("/v1/chat/completions", { messages: hello, max_tokens: 8, ...body });

describe("fault configuration", () => {
  it("is off by default: requests are served and nothing is counted", async () => {
    expect(await (await call("/admin/faults")).json()).toEqual({
      errors: [],
      latency_ms: 0,
      timeouts: null,
      down: false,
      stream_cut_after_tokens: null,
      malformed_output: null,
    });
    for (let i = 0; i < 3; i++) expect((await chat()).status).toBe(200);
    expect((await stats()).faults_injected_total).toEqual({ errors: 0, latency: 0, timeouts: 0, down: 0, stream_cut: 0, malformed_output: 0 });
  });

  it("replaces the whole configuration on PUT and clears it on DELETE", async () => {
    expect(await setFaults({ errors: [{ rate: 0.5, status: 502 }] })).toMatchObject({ errors: [{ rate: 0.5, status: 502 }], down: false });
    expect(await setFaults({ down: true })).toMatchObject({ errors: [], down: true });
    const cleared = await call("/admin/faults", { method: "DELETE" });
    expect(await cleared.json()).toMatchObject({ down: false, errors: [] });
    expect((await chat()).status).toBe(200);
  });

  it.each([
    [{ errors: [{ rate: 1.5, status: 500 }] }, "errors[0].rate"],
    [{ errors: [{ rate: 1, status: 302 }] }, "errors[0].status"],
    [{ errors: [{ status: 500 }] }, "errors[0].rate"],
    [{ errors: [{ rate: 1, status: 500, pool: "*" }] }, "errors[0].pool"],
    [{ latency_ms: -1 }, "latency_ms"],
    [{ timeouts: { rate: "sometimes" } }, "timeouts.rate"],
    [{ timeouts: 0.5 }, "timeouts"],
    [{ down: "yes" }, "down"],
    [{ stream_cut_after_tokens: 2.5 }, "stream_cut_after_tokens"],
    [{ error: [] }, "error"],
  ])("refuses %j with 400 naming %s, keeping the configuration in force", async (config, param) => {
    await setFaults({ latency_ms: 1 });
    const response = await call("/admin/faults", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(config) });
    expect(response.status).toBe(400);
    expect((await response.json<{ error: { param: string } }>()).error.param).toBe(param);
    expect((await (await call("/admin/faults")).json<{ latency_ms: number }>()).latency_ms).toBe(1);
  });

  it("starts from FAULTS_JSON, which is validated like PUT", async () => {
    expect(() => faultsFromEnv("{")).toThrow(/not valid JSON/);
    expect(() => faultsFromEnv('{"errors":[{"rate":2,"status":500}]}')).toThrow(/errors\[0\]\.rate/);
    const stub = env.DEVICE.get(env.DEVICE.idFromName("faults-json-at-start"));
    const faults = await runInDurableObject(stub, async (_instance, state) => {
      // A device starting for the first time with FAULTS_JSON set.
      state.storage.sql.exec("DELETE FROM faults");
      return new LocalDevice(state, { ...env, FAULTS_JSON: '{"down":true,"latency_ms":5}' }).getFaults();
    });
    expect(faults).toEqual({ errors: [], latency_ms: 5, timeouts: null, down: true, stream_cut_after_tokens: null, malformed_output: null });
  });
});

describe("injected failures", () => {
  it("answer errors in OpenAI's shape without booking the device", async () => {
    await setFaults({ errors: [{ rate: 1, status: 500 }] });
    const response = await chat();
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining("Injected"), type: "server_error", param: null, code: "injected_fault" },
    });
    expect((await call("/v1/models")).status).toBe(500);
    const s = await stats();
    expect(s.requests_total).toBe(0);
    expect(s.faults_injected_total.errors).toBe(2);
  });

  it("are drawn from the seeded sequence: the same configuration and requests meet the same faults", async () => {
    const run = async () => {
      await setFaults({ errors: [{ rate: 0.3, status: 503 }, { rate: 0.3, status: 429 }] });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push((await call("/health")).status);
      return statuses;
    };
    const first = await run();
    expect(new Set(first)).toEqual(new Set([200, 503, 429]));
    expect(await run()).toEqual(first);
  });

  it("add absolute latency that latency_scale 0 does not remove", async () => {
    await resetDevice(0);
    await setFaults({ latency_ms: 150 });
    const started = Date.now();
    expect((await chat()).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it("hang a timed-out request without booking the device, until the client gives up", async () => {
    await setFaults({ timeouts: { rate: 1 } });
    expect(await postWithin(300, "/v1/chat/completions", { messages: hello, max_tokens: 8 })).toBe("no answer");
    const s = await stats();
    expect(s.requests_total).toBe(0);
    expect(s.faults_injected_total.timeouts).toBe(1);
  });

  it("take the node down: 503 on every API route while /admin still answers", async () => {
    await setFaults({ down: true, latency_ms: 10_000 });
    for (const response of [await chat(), await call("/v1/models"), await call("/health")]) {
      expect(response.status).toBe(503);
      expect((await response.json<{ error: { code: string } }>()).error.code).toBe("node_down");
    }
    expect((await stats()).faults_injected_total.down).toBe(3);
  });
});

describe("stream_cut_after_tokens", () => {
  it("ends a stream after n tokens with no finishing chunk and no [DONE]", async () => {
    await setFaults({ stream_cut_after_tokens: 3 });
    const response = await chat({ max_tokens: 20, stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    const events = sseData(await response.text());
    expect(events).toHaveLength(3);
    expect(events).not.toContain("[DONE]");
    for (const event of events) expect(JSON.parse(event).choices[0].finish_reason).toBeNull();
    expect((await stats()).faults_injected_total.stream_cut).toBe(1);
  });

  it("leaves non-streaming answers whole, and cuts before the first token at 0", async () => {
    await setFaults({ stream_cut_after_tokens: 0 });
    const whole = await chat();
    expect((await whole.json<{ choices: { finish_reason: string }[] }>()).choices[0]!.finish_reason).toMatch(/stop|length/);
    expect(await (await chat({ stream: true })).text()).toBe("");
  });

  it("still withholds the end of a stream that had no more than n tokens", async () => {
    await setFaults({ stream_cut_after_tokens: 1000 });
    const events = sseData(await (await chat({ max_tokens: 5, stream: true })).text());
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events).not.toContain("[DONE]");
    expect(events.every((e) => JSON.parse(e).choices[0].finish_reason === null)).toBe(true);
  });
});
