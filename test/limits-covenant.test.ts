// A covenant's limits (`limits` in its contract), enforced by its object across every caller and
// interface: bursts, concurrency, tokens, the headers on every response, and bad input.
import { describe, expect, it } from "vitest";
import { formatResetDuration } from "../src/policy";
import { covenantStatus, createCovenant } from "./support/covenants";
import { call, strike } from "./support/gateway";
import { PROTOCOL_VERSION, type RpcMessage } from "./support/mcp";
import { expectBurstAdmitted, parseDuration, rateLimitHeadersOf } from "./support/ratelimit";

const chat = (covenant: string, body: Record<string, unknown>) =>
  call("/v1/chat/completions", { method: "POST", body: JSON.stringify(body), headers: { "x-homeskillet-covenant": covenant } });

function expectRetryAfter(res: Response): number {
  const retryAfter = res.headers.get("retry-after");
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  return Number(retryAfter);
}

describe("a covenant's requests_per_minute", () => {
  it("answers exactly the limit of a burst, whoever sends it and through whichever API", async () => {
    const { id } = await createCovenant({ limits: { requests_per_minute: 50 } });
    // 200 at once: half on the strike API, half on the OpenAI API — one covenant, one count.
    const t0 = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await (i % 2 === 0
          ? strike({ covenant_id: id, model: "gemma-2b-it", prompt: `burst ${i}`, max_tokens: 8 })
          : chat(id, { model: "gemma-2b-it", messages: [{ role: "user", content: `burst ${i}` }], max_tokens: 8 }));
        return { res, body: (await res.json()) as { error?: Record<string, unknown> } };
      }),
    );
    const ok = responses.filter((r) => r.res.status === 200);
    const limited = responses.filter((r) => r.res.status === 429);
    // The bucket refills 50 a minute: exactly 50 when the burst is decided within 1.2 s, never
    // more than what refilled meanwhile.
    expectBurstAdmitted(ok.length, limited.length, 200, 50, Date.now() - t0);
    for (const { res, body } of limited) {
      expectRetryAfter(res);
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("50");
      expect(res.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      // The strike API's own shape, or OpenAI's (type → code) on the chat route.
      expect(body.error!.code ?? body.error!.type).toBe("rate_limited");
      expect(body.error).toMatchObject({ scope: "covenant", limit: "requests_per_minute", limit_value: 50 });
      expect(body.error!.message).toContain("covenant's requests_per_minute");
    }
  });
});

describe("a covenant's max_concurrent", () => {
  it("never has more strikes in flight than the limit, and frees every slot", async () => {
    // qwen-32b writing ~4000 tokens runs for seconds even at the test's latency scale: every
    // strike of the burst arrives while the first five still run.
    const { id } = await createCovenant({ models: ["qwen-32b", "gemma-2b-it"], limits: { max_concurrent: 5 } });
    let peak = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        peak = Math.max(peak, (await covenantStatus(id)).in_flight);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => strike({ covenant_id: id, model: "qwen-32b", prompt: `slow ${i}`, max_tokens: 4096 })),
    );
    polling = false;
    await poller;
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length, String(statuses)).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(35);
    expect(peak).toBeLessThanOrEqual(5);
    for (const res of responses.filter((r) => r.status === 429)) {
      expectRetryAfter(res);
      expect(await res.json()).toMatchObject({ error: { type: "rate_limited", scope: "covenant", limit: "max_concurrent", limit_value: 5 } });
    }
    // Every slot came back: five more run at once.
    const again = await Promise.all(Array.from({ length: 5 }, (_, i) => strike({ covenant_id: id, model: "gemma-2b-it", prompt: `again ${i}`, max_tokens: 8 })));
    expect(again.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it("frees the slot of a streamed strike when its stream ends", async () => {
    const { id } = await createCovenant({ limits: { max_concurrent: 1 } });
    for (let i = 0; i < 3; i++) {
      const res = await chat(id, { model: "gemma-2b-it", messages: [{ role: "user", content: `stream ${i}` }], max_tokens: 16, stream: true });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("[DONE]");
    }
  });
});

describe("a covenant's tokens_per_minute", () => {
  it("reserves prompt + max_tokens, gives back what was not used, and refuses what can never fit", async () => {
    const { id } = await createCovenant({ limits: { tokens_per_minute: 1000 } });
    const first = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "tokens one", max_tokens: 400 });
    expect(first.status).toBe(200);
    const a = (await first.json()) as { classification: { prompt_tokens: number }; usage: { prompt_tokens: number; completion_tokens: number } };
    // Reserved at admission: prompt (as the edge counts it) + max_tokens.
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - (a.classification.prompt_tokens + 400)));
    // Settled to what it used, so a second strike of the same size fits when the first's reservation would not have.
    const used = a.usage.prompt_tokens + a.usage.completion_tokens;
    expect(used).toBeLessThan(a.classification.prompt_tokens + 400);
    const second = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "tokens two", max_tokens: 550 });
    expect(second.status, await second.clone().text()).toBe(200);

    const tooLarge = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "far too much", max_tokens: 1200 });
    expect(tooLarge.status).toBe(429);
    expect(tooLarge.headers.get("x-should-retry")).toBe("false");
    expect(await tooLarge.json()).toMatchObject({ error: { type: "rate_limited", scope: "covenant", limit: "tokens_per_minute", param: "max_tokens", limit_value: 1000 } });
  });
});

describe("rate-limit headers", () => {
  it("are on every response under a limited covenant, with the values worked out by hand", async () => {
    const { id } = await createCovenant({ limits: { requests_per_minute: 3, tokens_per_minute: 1000 } });
    const t0 = Date.now();
    const res1 = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "Hi", max_tokens: 100 });
    expect(res1.status).toBe(200);
    const s1 = (await res1.json()) as { classification: { prompt_tokens: number }; usage: { prompt_tokens: number; completion_tokens: number } };
    const reserved1 = s1.classification.prompt_tokens + 100;
    // A fresh bucket: 3 requests, one taken, one refills in 60/3 = 20 s; 1000 tokens, reserved1
    // taken, refilling 1000 a minute (one token per 60 ms).
    expect(rateLimitHeadersOf(res1)).toEqual({
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "2",
      "x-ratelimit-reset-requests": "20s",
      "x-ratelimit-limit-tokens": "1000",
      "x-ratelimit-remaining-tokens": String(1000 - reserved1),
      "x-ratelimit-reset-tokens": formatResetDuration(reserved1 * 60),
    });

    // After the first strike settled: its unused tokens are back, and time refilled a little.
    const res2 = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "Hi", max_tokens: 50 });
    const elapsed = Date.now() - t0;
    expect(res2.status).toBe(200);
    const s2 = (await res2.json()) as { classification: { prompt_tokens: number } };
    const used1 = s1.usage.prompt_tokens + s1.usage.completion_tokens;
    const tokensLeft = 1000 - used1 - (s2.classification.prompt_tokens + 50);
    const remainingTokens = Number(res2.headers.get("x-ratelimit-remaining-tokens"));
    expect(remainingTokens).toBeGreaterThanOrEqual(tokensLeft);
    expect(remainingTokens).toBeLessThanOrEqual(Math.min(1000, Math.floor(tokensLeft + elapsed / 60)));
    expect(res2.headers.get("x-ratelimit-limit-requests")).toBe("3");
    expect(res2.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    // Two taken, a little refilled: full again in at most 40 s, at least 40 s less the time since.
    const resetRequests = parseDuration(res2.headers.get("x-ratelimit-reset-requests")!);
    expect(resetRequests).toBeLessThanOrEqual(40_000);
    expect(resetRequests).toBeGreaterThanOrEqual(40_000 - elapsed);

    // The OpenAI API streams: the headers are on the stream's response.
    const res3 = await chat(id, { model: "gemma-2b-it", messages: [{ role: "user", content: "Hi" }], max_tokens: 20, stream: true });
    expect(res3.status).toBe(200);
    expect(res3.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(res3.headers.get("x-ratelimit-limit-tokens")).toBe("1000");
    expect(await res3.text()).toContain("[DONE]");

    // And a refusal: nothing left, a retry-after in whole seconds, OpenAI's shape on its API.
    const res4 = await chat(id, { model: "gemma-2b-it", messages: [{ role: "user", content: "Hi" }], max_tokens: 20 });
    expect(res4.status).toBe(429);
    const retryAfter = expectRetryAfter(res4);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(Number(res4.headers.get("retry-after-ms"))).toBeLessThanOrEqual(retryAfter * 1000);
    expect(res4.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(res4.headers.get("x-ratelimit-limit-tokens")).toBe("1000");
    expect(await res4.json()).toMatchObject({ error: { type: "rate_limit_error", code: "rate_limited", scope: "covenant", limit: "requests_per_minute", retry_after_s: retryAfter } });
  });

  it("are not sent for a covenant without limits", async () => {
    const { id } = await createCovenant({});
    const res = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "no limits", max_tokens: 8 });
    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((k) => k.startsWith("x-ratelimit-"))).toEqual([]);
  });
});

describe("MCP", () => {
  it("reports a covenant's limit as a tool error with the same information", async () => {
    const { id } = await createCovenant({ limits: { requests_per_minute: 1 } });
    const callTool = (n: number) =>
      call("/mcp", {
        method: "POST",
        headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": PROTOCOL_VERSION },
        body: JSON.stringify({ jsonrpc: "2.0", id: n, method: "tools/call", params: { name: "strike", arguments: { covenant_id: id, prompt: `mcp ${n}`, max_tokens: 8 } } }),
      });
    const lastMessage = async (res: Response): Promise<RpcMessage> => {
      const data = (await res.text()).split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)) as RpcMessage);
      return data.at(-1)!;
    };
    expect((await lastMessage(await callTool(1))).result?.isError).toBeFalsy();
    const refused = await lastMessage(await callTool(2));
    expect(refused.result?.isError).toBe(true);
    const text = refused.result!.content![0]!.text;
    expect(text).toMatch(/^rate_limited: the covenant's requests_per_minute limit of 1 is reached/);
    const error = (JSON.parse(text.slice(text.indexOf("\n") + 1)) as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ type: "rate_limited", status: 429, scope: "covenant", limit: "requests_per_minute", limit_value: 1 });
    expect(error.retry_after_s).toBeGreaterThanOrEqual(1);
    expect(error.headers).toMatchObject({ "retry-after": String(error.retry_after_s), "x-ratelimit-limit-requests": "1", "x-ratelimit-remaining-requests": "0" });
  });
});

describe("limits in the covenant contract", () => {
  it("merge field by field, and null removes one (or all)", async () => {
    const { id, limits } = await createCovenant({ limits: { requests_per_minute: 10, max_concurrent: 3 } });
    expect(limits).toEqual({ requests_per_minute: 10, max_concurrent: 3 });
    const patch = (body: unknown) => call(`/v1/covenants/${id}`, { method: "PATCH", body: JSON.stringify(body) });
    let res = await patch({ limits: { tokens_per_minute: 5000, max_concurrent: null } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { limits: unknown }).limits).toEqual({ requests_per_minute: 10, tokens_per_minute: 5000 });
    expect((await covenantStatus(id)).covenant.limits).toEqual({ requests_per_minute: 10, tokens_per_minute: 5000 });
    res = await patch({ limits: null });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { limits?: unknown }).limits).toBeUndefined();
    // A covenant with no limits left sends no headers.
    const s = await strike({ covenant_id: id, model: "gemma-2b-it", prompt: "free again", max_tokens: 8 });
    expect(s.headers.get("x-ratelimit-limit-requests")).toBeNull();
  });

  it.each([
    [{ requests_per_minute: 0 }, "limits.requests_per_minute"],
    [{ requests_per_minute: 1.5 }, "limits.requests_per_minute"],
    [{ requests_per_minute: "fast" }, "limits.requests_per_minute"],
    [{ tokens_per_minute: -5 }, "limits.tokens_per_minute"],
    [{ tokens_per_minute: 2_000_000_000 }, "limits.tokens_per_minute"],
    [{ max_concurrent: 100_001 }, "limits.max_concurrent"],
    [{ max_concurrent: true }, "limits.max_concurrent"],
    [{ max_usd_per_day: 5 }, "limits.max_usd_per_day"],
    ["lots", "limits"],
  ])("refuses limits %j with a 400 naming %s", async (limits, param) => {
    for (const [method, path] of [["POST", "/v1/covenants"], ["PATCH", "/v1/covenants/default"]] as const) {
      const res = await call(path, { method, body: JSON.stringify({ limits }) });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { type: string; param: string; message: string } };
      expect(body.error.param).toBe(param);
      expect(body.error.message).toContain(param);
    }
  });
});
