// LOCAL_NODE_MAX_CONCURRENCY against the local-node emulator's own count of the completions it
// served at once: a burst of chats on one covenant never puts more than the limit on the node,
// and every chat is answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type LocalSystem } from "../../bench/lib/system.ts";

const DEV_KEY = "hsk_node_local_limit_0001";
const LIMIT = 2;
let system: LocalSystem;

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${system.gateway}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

const nodeStats = async () => (await (await fetch(`${system.localNode}/admin/stats`)).json()) as { in_flight: number; max_in_flight: number; requests_total: number };

beforeAll(async () => {
  system = await startSystem({
    mode: "miniflare",
    workers: ["hostedai", "localNode", "gateway"],
    ports: { gateway: 0, hostedai: 0, localNode: 0 },
    persist: false,
    quiet: true,
    devKey: DEV_KEY,
    gatewayVars: { LOCAL_NODE_MAX_CONCURRENCY: String(LIMIT) },
  });
  expect((await post("/v1/covenants", { id: "on-the-node", fallback: ["local"] })).status).toBe(201);
});

afterAll(() => system?.stop());

describe("LOCAL_NODE_MAX_CONCURRENCY", () => {
  it("keeps a burst of one covenant's chats, plain and streamed, to the limit on the node, and answers them all", async () => {
    // Warm: the covenant learns which models the node serves.
    expect((await post("/v1/chat/completions", { model: "gemma-2b-it", messages: [{ role: "user", content: "Say hi." }], max_tokens: 4 }, { "x-homeskillet-covenant": "on-the-node" })).status).toBe(200);
    expect((await fetch(`${system.localNode}/admin/reset`, { method: "POST" })).status).toBe(200);

    const chat = (i: number) => ({ model: "gemma-2b-it", messages: [{ role: "user", content: `Name a colour, please (${i}).` }], max_tokens: 24, stream: i % 2 === 1 });
    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const res = await post("/v1/chat/completions", chat(i), { "x-homeskillet-covenant": "on-the-node" });
        return { status: res.status, text: await res.text() };
      }),
    );
    for (const a of answers) expect(a.status, a.text.slice(0, 300)).toBe(200);
    for (const a of answers.filter((_, i) => i % 2 === 1)) expect(a.text).toContain("data: [DONE]");

    const stats = await nodeStats();
    expect(stats.requests_total).toBe(10);
    // The burst did run side by side on the node, and never more than the limit at once.
    expect(stats.max_in_flight).toBe(LIMIT);
  });
});
