// Every parameter of OpenAI's chat-completions request is honoured or refused with a 400 naming
// it. The list comes from the official openai SDK's own type definitions, so a parameter OpenAI
// adds fails this test until it is decided one way or the other.
import { describe, expect, it } from "vitest";
import sdkTypes from "../node_modules/openai/resources/chat/completions/completions.d.ts?raw";
import { call } from "./support/gateway";

/** The field names of ChatCompletionCreateParamsBase, read from the SDK's declaration file. */
function sdkParameters(): string[] {
  const start = sdkTypes.indexOf("export interface ChatCompletionCreateParamsBase {");
  const end = sdkTypes.indexOf("\n}", start);
  const body = sdkTypes.slice(start, end);
  const names: string[] = [];
  for (const line of body.split("\n")) {
    // Top-level members are indented by exactly four spaces: `    name?: Type;`
    if (!line.startsWith("    ") || line.startsWith("     ")) continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(4, colon).replace("?", "");
    if (/^[a-z_]+$/.test(name)) names.push(name);
  }
  return names;
}

type Verdict = { honoured: unknown } | { refused: unknown };
const tool = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } };

/** For each parameter, a value that is not the "off" value, and what must happen to it. */
const PARAMETERS: Record<string, Verdict> = {
  messages: { honoured: [{ role: "user", content: "Hi" }] },
  model: { honoured: "gemma-2b-it" },
  max_tokens: { honoured: 7 },
  max_completion_tokens: { honoured: 7 },
  temperature: { honoured: 0.3 },
  stream: { honoured: false },
  stream_options: { honoured: { include_usage: true } },
  stop: { honoured: ["zzz"] },
  seed: { honoured: 42 },
  user: { honoured: "end-user-7" },
  safety_identifier: { honoured: "end-user-7" },
  tools: { honoured: [tool] },
  tool_choice: { honoured: "none" },
  parallel_tool_calls: { honoured: false },
  response_format: { honoured: { type: "json_object" } },
  n: { refused: 2 },
  top_p: { refused: 0.5 },
  frequency_penalty: { refused: 0.5 },
  presence_penalty: { refused: 0.5 },
  logit_bias: { refused: { "50256": -100 } },
  logprobs: { refused: true },
  top_logprobs: { refused: 3 },
  store: { refused: true },
  metadata: { refused: { project: "x" } },
  service_tier: { refused: "flex" },
  modalities: { refused: ["text", "audio"] },
  audio: { refused: { voice: "alloy", format: "mp3" } },
  prediction: { refused: { type: "content", content: "x" } },
  reasoning_effort: { refused: "high" },
  verbosity: { refused: "low" },
  web_search_options: { refused: {} },
  prompt_cache_key: { refused: "k" },
  prompt_cache_retention: { refused: "24h" },
  functions: { refused: [{ name: "f" }] },
  function_call: { refused: "auto" },
};

const chat = (body: Record<string, unknown>) => call("/v1/chat/completions", { method: "POST", body: JSON.stringify(body) });
const base = { model: "gemma-2b-it", messages: [{ role: "user", content: "Say something in JSON." }], max_tokens: 16 };

async function expectRefused(res: Response, param: string) {
  const body = (await res.json()) as { error: { code: string; param: string; message: string } };
  expect({ status: res.status, param: body.error.param }).toEqual({ status: 400, param });
  expect(body.error.message).toContain(param);
}

describe("OpenAI's chat-completions parameters", () => {
  it("the table decides every parameter the openai SDK knows, and no other", () => {
    const known = sdkParameters();
    expect(known.length).toBeGreaterThan(30);
    expect(Object.keys(PARAMETERS).sort()).toEqual([...known].sort());
  });

  for (const [name, verdict] of Object.entries(PARAMETERS)) {
    if ("refused" in verdict) {
      it(`refuses ${name} unless it is off, naming it`, async () => {
        const res = await chat({ ...base, [name]: verdict.refused });
        const body = (await res.clone().json()) as { error: { code: string } };
        expect(body.error.code).toBe("unsupported_parameter");
        await expectRefused(res, name);
      });
    } else {
      it(`honours ${name}`, async () => {
        const res = await chat({ ...base, [name]: verdict.honoured });
        expect(res.status, await res.clone().text()).toBe(200);
      });
    }
  }

  it("accepts the refused parameters at their off values (what SDKs send by default)", async () => {
    const off = { n: 1, top_p: 1, frequency_penalty: 0, presence_penalty: 0, logit_bias: {}, logprobs: false, store: false, metadata: {}, service_tier: "auto", modalities: ["text"], audio: null, prediction: null, functions: null };
    expect((await chat({ ...base, ...off })).status).toBe(200);
  });

  it("refuses a parameter OpenAI does not have, naming it", async () => {
    const res = await chat({ ...base, top_k: 5 });
    await expectRefused(res, "top_k");
  });

  it.each([
    [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }],
    [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }],
    [{ type: "file", file: { file_id: "file-1" } }],
  ])("refuses %j content parts, naming the part", async (part) => {
    const res = await chat({ ...base, messages: [{ role: "user", content: [{ type: "text", text: "look" }, part] }] });
    await expectRefused(res, "messages.0.content.1.type");
  });

  it("refuses the deprecated function role and function_call on an assistant message", async () => {
    expect((await chat({ ...base, messages: [{ role: "function", name: "f", content: "x" }] })).status).toBe(400);
    const res = await chat({ ...base, messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, function_call: { name: "f", arguments: "{}" } }, { role: "user", content: "y" }] });
    await expectRefused(res, "messages.1.function_call");
  });
});
