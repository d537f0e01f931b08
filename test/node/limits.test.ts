// The official openai SDK against a rate-limited covenant: it meets a 429, reads when to retry
// from the gateway's headers, and retries by itself until it is answered.
import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";

const { gateway, keys } = inject("system");

async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(`${gateway}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${keys.dev}`, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

describe("openai SDK against a rate limit", () => {
  it("backs off on the gateway's 429 and retries until it is answered", async () => {
    const covenant = `sdk-limited-${crypto.randomUUID().slice(0, 8)}`;
    // 20 a minute: one more every 3 s once the burst is spent.
    const created = await api("/v1/covenants", { method: "POST", body: { id: covenant, limits: { requests_per_minute: 20 } } });
    expect(created.status, await created.clone().text()).toBe(201);
    const strike = () => api("/v1/strikes", { method: "POST", body: { covenant_id: covenant, model: "gemma-2b-it", prompt: "spend the burst", max_tokens: 4 } });
    const burst = await Promise.all(Array.from({ length: 20 }, strike));
    expect(burst.map((r) => r.status).filter((s) => s === 200).length).toBe(20);
    expect((await strike()).status).toBe(429);

    // Every response the SDK sees, in order: it retries on its own, told by retry-after(-ms).
    const seen: { status: number; retryAfter: string | null; remaining: string | null }[] = [];
    const client = new OpenAI({
      apiKey: keys.dev,
      baseURL: `${gateway}/v1`,
      defaultHeaders: { "x-homeskillet-covenant": covenant },
      maxRetries: 5,
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        seen.push({ status: res.status, retryAfter: res.headers.get("retry-after"), remaining: res.headers.get("x-ratelimit-remaining-requests") });
        return res;
      },
    });
    const answer = await client.chat.completions.create({ model: "gemma-2b-it", messages: [{ role: "user", content: "Say hi." }], max_tokens: 8 });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const statuses = seen.map((s) => s.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).length).toBeGreaterThanOrEqual(1);
    expect(statuses.slice(0, -1).every((s) => s === 429)).toBe(true);
    for (const s of seen.slice(0, -1)) {
      expect(s.retryAfter).toMatch(/^[1-9]\d*$/);
      expect(s.remaining).toBe("0");
    }

    // With retries off, the SDK raises its typed error, carrying the gateway's details.
    const impatient = new OpenAI({ apiKey: keys.dev, baseURL: `${gateway}/v1`, defaultHeaders: { "x-homeskillet-covenant": covenant }, maxRetries: 0 });
    const refused = await impatient.chat.completions.create({ model: "gemma-2b-it", messages: [{ role: "user", content: "again" }], max_tokens: 8 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.code).toBe("rate_limited");
    expect(error.headers.get("x-ratelimit-limit-requests")).toBe("20");
    expect((error.error as { scope?: string; limit?: string }).scope).toBe("covenant");
  });
});
