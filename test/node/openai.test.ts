// The OpenAI-compatible API through the official openai SDK, against the whole system running
// locally, as a user pointing their existing code at Homeskillet would.
import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";

const { gateway, hostedai, keys } = inject("system");
const client = (key = keys.dev, headers: Record<string, string> = {}) =>
  new OpenAI({ apiKey: key, baseURL: `${gateway}/v1`, defaultHeaders: headers, maxRetries: 0 });

describe("openai SDK against Homeskillet", () => {
  it("lists models", async () => {
    const ids = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(["gemma-2b-it", "mistral-7b", "qwen-70b"]));
  });

  it("completes a chat", async () => {
    const res = await client().chat.completions.create({ model: "gemma-2b-it", messages: [{ role: "user", content: "Say hi." }], max_tokens: 16 });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  it("honours stop sequences, whole and streamed", async () => {
    const ask = { model: "gemma-2b-it", temperature: 0, max_tokens: 40, messages: [{ role: "user" as const, content: "Describe a GPU pool." }] };
    const full = (await client().chat.completions.create(ask)).choices[0]!.message.content!;
    const stop = ` ${full.split(" ")[4]}`;
    const before = full.slice(0, full.indexOf(stop));
    const whole = await client().chat.completions.create({ ...ask, stop: [stop] });
    expect(whole.choices[0]!.message.content).toBe(before);
    expect(whole.choices[0]!.finish_reason).toBe("stop");
    let text = "";
    let finish: string | null = null;
    for await (const chunk of await client().chat.completions.create({ ...ask, stop, stream: true })) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(before);
    expect(finish).toBe("stop");
  });

  it("lets the covenant choose with model auto", async () => {
    const res = await client().chat.completions.create({ model: "auto", messages: [{ role: "user", content: "Hello there" }], max_tokens: 8 });
    expect(res.model.length).toBeGreaterThan(0);
    expect(res.model).not.toBe("auto");
  });

  it("streams, the first token arriving before the last is generated", async () => {
    // Hosted.AI's emulator logs each inference when its last token is generated: by its account,
    // the first token reached the client while the inference was still generating.
    const marker = `Write a long story (${crypto.randomUUID()}).`;
    const generated = async () =>
      ((await (await fetch(`${hostedai}/admin/inferences`)).json()) as { inferences: { prompt_tail: string; outcome: string; completion_tokens: number }[] }).inferences.filter((i) =>
        i.prompt_tail.includes(marker),
      );
    const stream = await client().chat.completions.create({
      model: "mistral-7b",
      messages: [{ role: "user", content: marker }],
      max_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
    });
    let atFirst: Awaited<ReturnType<typeof generated>> | undefined;
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content ?? "";
      if (delta && !atFirst) atFirst = await generated();
      text += delta;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(finish);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    expect(atFirst, "the inference had not finished when the first token arrived").toEqual([]);
    const done = await generated();
    expect(done.map((i) => [i.outcome, i.completion_tokens])).toEqual([["done", usage!.completion_tokens]]);
  });

  it("fuses a multi-part request and streams each fragment's progress through the SDK", async () => {
    const body = {
      model: "auto",
      messages: [{ role: "user" as const, content: "Answer these:\n1. What is a GPU?\n2. What is a lease?\n3. What is a covenant?" }],
      max_tokens: 16,
      stream: true as const,
      // Extra body fields go to the server as given: this is how SDK users ask for fusion.
      homeskillet: { fusion: { strategy: "split" } },
    };
    const stream = await client().chat.completions.create(body);
    const progress: { type: string; done?: number; total: number }[] = [];
    let text = "";
    let report: { plan: { strategy: string } } | undefined;
    for await (const chunk of stream) {
      const extra = (chunk as unknown as { homeskillet?: { fusion_progress?: (typeof progress)[number]; fusion?: typeof report } }).homeskillet;
      if (extra?.fusion_progress) progress.push(extra.fusion_progress);
      if (extra?.fusion) report = extra.fusion;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const finished = progress.filter((p) => p.type === "fragment_finished");
    expect(finished.length).toBe(3);
    expect(finished.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(text).toContain("What is a lease?");
    expect(report?.plan.strategy).toBe("split");
  });

  it("raises the SDK's typed errors", async () => {
    await expect(client("not-a-key").chat.completions.create({ model: "gemma-2b-it", messages: [{ role: "user", content: "x" }] })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const bad = await client()
      .chat.completions.create({ model: "gpt-9", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("unknown_model");
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("model");
    const missing = await client(keys.dev, { "x-homeskillet-covenant": "no-such-covenant" })
      .chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
