// The families' prompts against their published chat templates, rendered by an independent Jinja
// implementation (@huggingface/jinja) from the template files in test/fixtures/templates (their
// sources are in the README there). Each conversation is given to the template in the shape the
// template reads — OpenAI's tool objects, tool-call arguments as a mapping (as vLLM passes them) —
// and the two prompts must be the same string. Where they cannot be, the test says why.
import { Template } from "@huggingface/jinja";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { familyOf, gemma, mistral, MUST_CALL_A_TOOL, mustCallTool, qwen, type ModelFamily, type TemplateMessage, type ToolFunction } from "../src/families";
import { callIdsOf } from "../src/families/mistral/call-ids";
import { pythonStrip } from "../src/families/python-json";
import gemma2Source from "./fixtures/templates/google-gemma-2-2b-it.jinja?raw";
import mistralSource from "./fixtures/templates/mistralai-Mistral-7B-Instruct-v0.3.jinja?raw";
import qwenSource from "./fixtures/templates/Qwen-Qwen2.5-7B-Instruct.jinja?raw";
import gemma3ToolSource from "./fixtures/templates/tool_chat_template_gemma3_pythonic.jinja?raw";

const weather: ToolFunction = {
  name: "get_weather",
  description: 'Current weather for a city, e.g. "Paris"',
  parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } }, required: ["city"] },
};
const time: ToolFunction = { name: "get_time", description: "Local time in a time zone", parameters: { type: "object", properties: { zone: { type: "string" } } } };
const ping: ToolFunction = { name: "ping" };
const TOOLS = [weather, time];

const weatherCall = { id: "call_9f8e7d6c5b4a3921", name: "get_weather", arguments: '{"city": "Paris", "days": 3}' };
const timeCall = { id: "call_0a1b2c3d4e5f6789", name: "get_time", arguments: '{"zone":"Europe/Paris"}' };

interface Conversation {
  messages: TemplateMessage[];
  tools?: ToolFunction[];
}

const CONVERSATIONS: Record<string, Conversation> = {
  "plain chat": { messages: [{ role: "user", content: "Hello" }] },
  "multi-turn": {
    messages: [
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Hi there" },
      { role: "user", content: "Who are you" },
      { role: "assistant", content: "   I am an assistant   " },
      { role: "user", content: "  Another question\n" },
    ],
  },
  "system message": {
    messages: [
      { role: "system", content: "You are a helpful assistant" },
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Hi" },
      { role: "user", content: "Bye" },
    ],
  },
  "tools offered": { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }], tools: TOOLS },
  "tools offered, no system message": { messages: [{ role: "user", content: "Is the server up?" }], tools: [weather, time, ping] },
  "one tool call and its result": {
    messages: [
      { role: "user", content: "Weather in Paris for three days?" },
      { role: "assistant", content: null, tool_calls: [weatherCall] },
      { role: "tool", content: '{"temp_c": 21, "sky": "clear"}', tool_call_id: weatherCall.id },
    ],
    tools: TOOLS,
  },
  "parallel tool calls and their results": {
    messages: [
      { role: "system", content: "Use the tools." },
      { role: "user", content: "Weather and time in Paris?" },
      { role: "assistant", content: null, tool_calls: [weatherCall, timeCall] },
      { role: "tool", content: "21 °C, clear", tool_call_id: weatherCall.id },
      { role: "tool", content: "14:05", tool_call_id: timeCall.id },
    ],
    tools: TOOLS,
  },
  "a call with text, then more turns": {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "Let me check.", tool_calls: [weatherCall] },
      { role: "tool", content: "21 °C", tool_call_id: weatherCall.id },
      { role: "assistant", content: "It is 21 °C in Paris." },
      { role: "user", content: "And the time?" },
    ],
    tools: TOOLS,
  },
};

/** The messages as the templates read them: arguments a mapping, ids as the family sends them. */
function templateMessages(messages: readonly TemplateMessage[], idOf: (id: string) => string = (id) => id): Record<string, unknown>[] {
  return messages.map((m) => {
    if (m.role === "tool") return { role: "tool", content: m.content, tool_call_id: idOf(m.tool_call_id) };
    if (m.role !== "assistant") return { role: m.role, content: m.content };
    // Templates concatenate or trim the content; a missing one is the empty string there (the
    // Python templates raise on None, which no client turn with calls can avoid).
    const message: Record<string, unknown> = { role: "assistant", content: m.content ?? "" };
    if (m.tool_calls?.length) {
      message.tool_calls = m.tool_calls.map((c) => ({ id: idOf(c.id), type: "function", function: { name: c.name, arguments: JSON.parse(c.arguments) } }));
    }
    return message;
  });
}

function templateTools(tools: readonly ToolFunction[] | undefined): Record<string, unknown>[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description !== undefined && { description: t.description }), ...(t.parameters !== undefined && { parameters: t.parameters }) } }));
}

function renderTemplate(source: string, conversation: Conversation, tokens: { bos_token?: string; eos_token?: string }, idOf?: (id: string) => string): string {
  return new Template(source).render({ messages: templateMessages(conversation.messages, idOf), tools: templateTools(conversation.tools), add_generation_prompt: true, ...tokens });
}

// Gemma's tool template, as this family uses it. Two changes to vLLM's file, each checked to apply:
// (1) @huggingface/jinja's `iterable` test is false for a mapping (Python's is true), so the
// keyword-argument branch would never run there; `is mapping` alone is the same test in Python.
// (2) the instruction: Google's documented function-calling prompt replaces vLLM's wording.
const ITERABLE_MAPPING = "tool_call.arguments is iterable and tool_call.arguments is mapping";
const VLLM_INSTRUCTION =
  "Tools (functions) are available. If you decide to invoke one or more of the tools, you must respond with a python list of the function calls.\n" +
  "Example Format: [func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)] \n" +
  "Do not use variables. DO NOT USE MARKDOWN SYNTAX. You SHOULD NOT include any other text in the response if you call a function. If none of the functions can be used, point it out. If you lack the parameters required by the function, also point it out.\n" +
  "Here is a list of functions in JSON format that you can invoke.\n";
const GOOGLE_INSTRUCTION =
  "You have access to functions. If you decide to invoke any of the function(s),\n" +
  "you MUST put it in the format of\n" +
  "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]\n" +
  "You SHOULD NOT include any other text in the response if you call a function\n";

function renderGemmaTools(conversation: Conversation): string {
  expect(gemma3ToolSource).toContain(ITERABLE_MAPPING);
  const rendered = renderTemplate(gemma3ToolSource.replace(ITERABLE_MAPPING, "tool_call.arguments is mapping"), conversation, { bos_token: "<bos>" });
  if (!conversation.tools?.length) return rendered;
  expect(rendered.split(VLLM_INSTRUCTION)).toHaveLength(2);
  return rendered.replace(VLLM_INSTRUCTION, GOOGLE_INSTRUCTION);
}

const renderMistral = (c: Conversation) => renderTemplate(mistralSource, c, { bos_token: "<s>", eos_token: "</s>" }, callIdsOf(c.messages));
const renderQwen = (c: Conversation) => renderTemplate(qwenSource, c, {});

const REFERENCES: [ModelFamily, (c: Conversation) => string][] = [
  [qwen, renderQwen],
  [mistral, renderMistral],
  [gemma, renderGemmaTools],
];

describe.each(REFERENCES)("$id renders what its published template renders", (family, reference) => {
  it.each(Object.entries(CONVERSATIONS))("%s", (_name, conversation) => {
    expect(family.render(conversation)).toBe(reference(conversation));
  });

  it("renders an empty tools list exactly as no tools", () => {
    for (const conversation of Object.values(CONVERSATIONS)) {
      const plain = { messages: conversation.messages };
      expect(family.render({ ...plain, tools: [], instructions: [] })).toBe(reference(plain));
    }
  });
});

describe("random conversations render as the templates render them", () => {
  // Text without the few characters whose trimming differs between Python and the reference
  // engine (JavaScript's trim; see the test of that difference below).
  const text = fc.string({ unit: "binary", maxLength: 30 }).map((s) => s.replace(/[\x1c-\x1f\x85\ufeff]/g, "_"));
  const call = fc.record({
    id: fc.stringMatching(/^call_[A-Za-z0-9]{1,24}$/),
    name: fc.constantFrom(...TOOLS.map((t) => t.name)),
    arguments: fc.dictionary(text, fc.jsonValue({ maxDepth: 2, stringUnit: "binary" }), { maxKeys: 4 }).map((a) => JSON.stringify(a)),
  });
  const exchange = fc.record({
    user: text,
    calls: fc.array(call, { maxLength: 3 }),
    lead: fc.option(text),
    results: fc.array(text, { minLength: 3, maxLength: 3 }),
    answer: fc.option(text),
  });
  const conversation: fc.Arbitrary<Conversation> = fc
    .record({ system: fc.option(text), exchanges: fc.array(exchange, { minLength: 1, maxLength: 4 }), tools: fc.boolean() })
    .map(({ system, exchanges, tools }) => {
      const messages: TemplateMessage[] = system === null ? [] : [{ role: "system", content: system }];
      exchanges.forEach((x, i) => {
        // Distinct user texts: Python's `==` on dicts and the reference engine's differ on twins.
        messages.push({ role: "user", content: `${i}:${x.user}` });
        const calls = x.calls.map((c, j) => ({ ...c, id: `${c.id}_${i}_${j}` }));
        if (calls.length > 0) messages.push({ role: "assistant", content: x.lead, tool_calls: calls });
        calls.forEach((c, j) => messages.push({ role: "tool", content: x.results[j]!, tool_call_id: c.id }));
        // The roles must alternate around the calls: an answer before the next user message.
        if (i < exchanges.length - 1 || x.answer !== null) messages.push({ role: "assistant", content: x.answer ?? "" });
      });
      return tools ? { messages, tools: TOOLS } : { messages };
    });

  it.each(REFERENCES)("$id", (family, reference) => {
    fc.assert(fc.property(conversation, (c) => family.render(c) === reference(c)), { numRuns: 150 });
  });
});

describe("the fixtures", () => {
  it("the Mistral template renders llama.cpp's expected output for its standard conversation", () => {
    const messages: TemplateMessage[] = [
      { role: "system", content: "You are a helpful assistant" },
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Hi there" },
      { role: "user", content: "Who are you" },
      { role: "assistant", content: "   I am an assistant   " },
      { role: "user", content: "Another question" },
    ];
    const expected = "[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] You are a helpful assistant\n\nAnother question[/INST]";
    expect(renderTemplate(mistralSource, { messages }, { bos_token: "", eos_token: "</s>" })).toBe(expected);
    expect(mistral.render({ messages })).toBe("<s>" + expected);
  });
});

describe("the plain Gemma template", () => {
  it.each(["plain chat", "multi-turn"])("%s: gemma-2-2b-it's template and the tool template agree with the family", (name) => {
    const conversation = CONVERSATIONS[name]!;
    const plain = renderTemplate(gemma2Source, conversation, { bos_token: "<bos>" });
    expect(gemma.render(conversation)).toBe(plain);
    expect(renderGemmaTools(conversation)).toBe(plain);
  });

  it("raises on a system message; the family puts it where the tool template does, atop the first user turn", () => {
    const conversation = CONVERSATIONS["system message"]!;
    expect(() => renderTemplate(gemma2Source, conversation, { bos_token: "<bos>" })).toThrow("System role not supported");
    expect(gemma.render(conversation)).toBe(
      "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n",
    );
  });
});

describe("instructions go where the template puts system text", () => {
  const A = mustCallTool("get_weather");
  const B = MUST_CALL_A_TOOL;
  const withSystem = (messages: TemplateMessage[], system: string): TemplateMessage[] =>
    messages[0]?.role === "system" ? [{ role: "system", content: system }, ...messages.slice(1)] : [{ role: "system", content: system }, ...messages];

  it.each(Object.entries(CONVERSATIONS))("qwen, %s: in the system turn, after the system text, before the tools", (_name, c) => {
    const system = c.messages[0]?.role === "system" ? c.messages[0].content : "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
    expect(qwen.render({ ...c, instructions: [A, B] })).toBe(renderQwen({ ...c, messages: withSystem(c.messages, `${system}\n\n${A}\n\n${B}`) }));
  });

  it.each(Object.entries(CONVERSATIONS))("gemma, %s: atop the first user turn, after the system text", (_name, c) => {
    const lead = c.messages[0]?.role === "system" ? `${c.messages[0].content}\n\n` : "";
    expect(gemma.render({ ...c, instructions: [A, B] })).toBe(renderGemmaTools({ ...c, messages: withSystem(c.messages, `${lead}${A}\n\n${B}`) }));
  });

  it.each(Object.entries(CONVERSATIONS).filter(([, c]) => c.messages.at(-1)?.role === "user"))("mistral, %s: in the last user message, after the system text", (_name, c) => {
    const lead = c.messages[0]?.role === "system" ? `${c.messages[0].content}\n\n` : "";
    expect(mistral.render({ ...c, instructions: [A, B] })).toBe(renderMistral({ ...c, messages: withSystem(c.messages, `${lead}${A}\n\n${B}`) }));
  });

  it("mistral: when tool results end the conversation, the template drops the system message, but instructions still lead the last user message", () => {
    const c = CONVERSATIONS["parallel tool calls and their results"]!;
    expect(mistral.render(c)).not.toContain("Use the tools.");
    expect(mistral.render(c)).toBe(renderMistral(c));
    const rendered = mistral.render({ ...c, instructions: [A] });
    expect(rendered).toContain(`[/AVAILABLE_TOOLS][INST] ${A}\n\nWeather and time in Paris?[/INST][TOOL_CALLS]`);
    expect(rendered).not.toContain("Use the tools.");
  });

  it("instructions with no user message to carry them get a user turn of their own", () => {
    const messages: TemplateMessage[] = [{ role: "system", content: "S" }];
    expect(mistral.render({ messages, instructions: [A] })).toBe(`<s>[INST] S\n\n${A}\n\n[/INST]`);
    expect(gemma.render({ messages, instructions: [A] })).toBe(`<bos><start_of_turn>user\nS\n\n${A}\n\n<end_of_turn>\n<start_of_turn>model\n`);
    expect(qwen.render({ messages, instructions: [A] })).toBe(`<|im_start|>system\nS\n\n${A}<|im_end|>\n<|im_start|>assistant\n`);
  });
});

describe("where the reference engine is not Python's Jinja", () => {
  it("mistral: the tools go before every user message equal to the last one, as Python compares dicts by value", () => {
    const messages: TemplateMessage[] = [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "hi" },
    ];
    const tools = `[AVAILABLE_TOOLS] [{"type": "function", "function": {"name": "ping"}}][/AVAILABLE_TOOLS]`;
    expect(mistral.render({ messages, tools: [ping] })).toBe(`<s>${tools}[INST] hi[/INST] hello</s>${tools}[INST] hi[/INST]`);
    // @huggingface/jinja compares by identity, so it prints the tools once.
    expect(renderMistral({ messages, tools: [ping] })).toBe(`<s>[INST] hi[/INST] hello</s>${tools}[INST] hi[/INST]`);
  });

  it("trim removes what Python's str.strip removes, which is not JavaScript's set", () => {
    expect(pythonStrip("\x1c\x1d\x1e\x1f\x85 a \u3000\u2028")).toBe("a");
    expect(pythonStrip("\ufeffa\ufeff")).toBe("\ufeffa\ufeff");
    expect(gemma.render({ messages: [{ role: "user", content: "\x1fHi\x85" }] })).toBe("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
  });
});

describe("mistral tool-call ids", () => {
  const c = CONVERSATIONS["parallel tool calls and their results"]!;

  it("are 9 alphanumerics, the same in a call and in its result, and the same in every render", () => {
    const ids = [...mistral.render(c).matchAll(/"(?:id|call_id)": "([^"]*)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(4);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[1]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[1]);
    expect(mistral.render(c)).toBe(mistral.render(structuredClone(c)));
  });

  it("keep an id that already is 9 alphanumerics, and never give two ids the same short id", () => {
    const shortId = callIdsOf([
      { role: "assistant", content: null, tool_calls: [{ id: "AbC123xyz", name: "f", arguments: "{}" }, ...Array.from({ length: 500 }, (_, i) => ({ id: `call_${i}`, name: "f", arguments: "{}" }))] },
    ]);
    expect(shortId("AbC123xyz")).toBe("AbC123xyz");
    expect(new Set(Array.from({ length: 500 }, (_, i) => shortId(`call_${i}`))).size).toBe(500);
  });
});

describe("familyOf", () => {
  it("maps each model to its family by prefix", () => {
    expect(familyOf("gemma-2b-it")).toBe(gemma);
    expect(familyOf("mistral-7b")).toBe(mistral);
    for (const id of ["qwen-14b", "qwen-32b", "qwen-70b"]) expect(familyOf(id)).toBe(qwen);
  });

  it("knows no family for any other id", () => {
    for (const id of ["llama-3-8b", "gpt-4o", "qwen", "gemma", "", "mistral7b", "xqwen-14b"]) expect(familyOf(id)).toBeUndefined();
  });
});
