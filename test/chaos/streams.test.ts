import { afterEach, describe, expect, it } from "vitest";
import { createCovenant } from "../support/covenants";
import { hostedaiFaults, localFaults } from "../support/faults";
import { call } from "../support/gateway";

afterEach(async () => {
  await hostedaiFaults.clear();
  await localFaults.clear();
});

async function streamChat(covenantId: string, model: string) {
  const res = await call("/v1/chat/completions", {
    method: "POST",
    headers: { "x-homeskillet-covenant": covenantId },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Tell me a story." }], max_tokens: 40, stream: true }),
  });
  const text = res.status === 200 ? await res.text() : "";
  const data = text.split("\n\n").filter((b) => b.startsWith("data: ")).map((b) => b.slice(6));
  return { res, data };
}

describe("streams under faults", () => {
  it("ends a stream cut after output began with an explicit error, never a clean [DONE]", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"], fallback: ["standard-us-east"] });
    await hostedaiFaults.set({ stream_cut_after_tokens: 3 });
    const { res, data } = await streamChat(id, "gemma-2b-it");
    expect(res.status).toBe(200);
    expect(data).not.toContain("[DONE]");
    const chunks = data.map((d) => JSON.parse(d) as { choices?: { delta: { content?: string }; finish_reason: string | null }[]; error?: { code: string } });
    const content = chunks.map((c) => c.choices?.[0]?.delta.content ?? "").join("");
    expect(content.trim().split(/\s+/)).toHaveLength(3);
    expect(chunks.some((c) => c.choices?.[0]?.finish_reason === "error")).toBe(true);
    expect(chunks.at(-1)!.error).toMatchObject({ code: "stream_interrupted" });
  });

  it("falls back transparently when a stream breaks before its first token", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["standard-us-east", "local"] });
    await hostedaiFaults.set({ stream_cut_after_tokens: 0 });
    const { res, data } = await streamChat(id, "mistral-7b");
    expect(res.status).toBe(200);
    expect(data.at(-1)).toBe("[DONE]");
    const finish = data
      .slice(0, -1)
      .map((d) => JSON.parse(d) as { choices: { finish_reason: string | null }[]; homeskillet?: { pool_id: string } })
      .find((c) => c.choices[0]?.finish_reason);
    expect(finish!.homeskillet!.pool_id).toBe("local");
  });

  it("ends a local node's cut stream explicitly too", async () => {
    const { id } = await createCovenant({ models: ["mistral-7b"], fallback: ["local"] });
    await localFaults.set({ stream_cut_after_tokens: 2 });
    const { data } = await streamChat(id, "mistral-7b");
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { code: "stream_interrupted" } });
  });
});
