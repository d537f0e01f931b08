// OpenAI's `stop` on /v1/chat/completions: the answer ends just before the first stop sequence,
// whether it comes whole or streamed in pieces that split a sequence anywhere.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cutAtStop, StopScanner, stopSequences } from "../src/api/stop-sequences";
import { ChatCompletion } from "../src/schema";
import { createCovenant } from "./support/covenants";
import { call } from "./support/gateway";

describe("stop sequences", () => {
  it("cut before the earliest sequence, and take one string or several, ignoring empty ones", () => {
    expect(cutAtStop("alpha beta gamma", [" gamma", " beta"])).toEqual({ text: "alpha", stopped: true });
    expect(cutAtStop("alpha beta", ["zeta"])).toEqual({ text: "alpha beta", stopped: false });
    expect(cutAtStop("stop at once", ["stop"])).toEqual({ text: "", stopped: true });
    expect(stopSequences("\n")).toEqual(["\n"]);
    expect(stopSequences(["", "END"])).toEqual(["END"]);
    expect(stopSequences(null)).toEqual([]);
  });

  it("give a stream, however it is split, exactly what they give the whole text", () => {
    const alphabet = fc.constantFrom("a", "b", "c", " ", "\n");
    const text = fc.string({ unit: alphabet, maxLength: 60 });
    const stops = fc.array(fc.string({ unit: alphabet, minLength: 1, maxLength: 4 }), { maxLength: 4 });
    const cuts = fc.array(fc.nat({ max: 60 }), { maxLength: 12 });
    fc.assert(
      fc.property(text, stops, cuts, (t, s, at) => {
        const points = [...new Set(at.map((p) => Math.min(p, t.length)))].sort((a, b) => a - b);
        const pieces = [0, ...points].map((from, i) => t.slice(from, [...points, t.length][i]));
        const scanner = new StopScanner(s);
        let out = "";
        for (const piece of pieces) out += scanner.push(piece);
        out += scanner.flush();
        const whole = cutAtStop(t, s);
        expect(out).toBe(whole.text);
        expect(scanner.stopped).toBe(whole.stopped);
      }),
      { numRuns: 500, seed: 6 },
    );
  });
});

describe("stop on the OpenAI API, end to end", () => {
  const ask = (covenant: string, extra: Record<string, unknown>) =>
    call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-homeskillet-covenant": covenant },
      body: JSON.stringify({ model: "gemma-2b-it", temperature: 0, max_tokens: 40, messages: [{ role: "user", content: "Describe a GPU pool." }], ...extra }),
    });

  /** A stop sequence from the middle of the answer the same request gets without one (the emulator's text is seeded by the request). */
  async function answerAndStop(covenant: string): Promise<{ full: string; stop: string; before: string }> {
    const full = ChatCompletion.parse(await (await ask(covenant, {})).json()).choices[0]!.message.content ?? "";
    const words = full.split(" ");
    expect(words.length).toBeGreaterThan(6);
    const stop = ` ${words[4]}`;
    return { full, stop, before: full.slice(0, full.indexOf(stop)) };
  }

  it("ends a whole answer before the stop sequence, with finish_reason stop", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const { full, stop, before } = await answerAndStop(id);
    const res = await ask(id, { stop: [stop, "never appears"] });
    expect(res.status).toBe(200);
    const body = ChatCompletion.parse(await res.json());
    expect(body.choices[0]!.message.content).toBe(before);
    expect(body.choices[0]!.finish_reason).toBe("stop");
    expect(before.length).toBeLessThan(full.length);
  });

  it("ends a stream before the stop sequence, then finishes with the strike's own final chunk and [DONE]", async () => {
    // Answer caching off: the streamed repeat must run upstream, so its final chunk carries a real cost.
    const { id } = await createCovenant({ models: ["gemma-2b-it"], cache: { mode: "off" } });
    const { stop, before } = await answerAndStop(id);
    const res = await ask(id, { stop, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const data = (await res.text())
      .split("\n\n")
      .filter((b) => b.startsWith("data: "))
      .map((b) => b.slice(6));
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; usage?: unknown; homeskillet?: { cost_usd: number } });
    const content = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
    expect(content).toBe(before);
    const final = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(final!.choices[0]!.finish_reason).toBe("stop");
    expect(final!.homeskillet!.cost_usd).toBeGreaterThan(0);
    expect(chunks.at(-1)!.usage).toBeDefined();
  });

  it("refuses more than four stop sequences, naming the field", async () => {
    const { id } = await createCovenant({ models: ["gemma-2b-it"] });
    const res = await ask(id, { stop: ["a", "b", "c", "d", "e"] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: expect.stringContaining("stop") } });
  });
});
