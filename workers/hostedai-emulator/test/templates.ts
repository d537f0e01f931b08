// Prompts for the tests, rendered as each family's published chat template renders them (written
// out here, so the tests do not depend on the gateway's renderer): Qwen2.5's ChatML template,
// Mistral-7B-Instruct-v0.3's template, and for Gemma both Google's documented function-calling
// prompt and vLLM's examples/tool_chat_template_gemma3_pythonic.jinja.
import { pyJson } from "../../shared/json-text";

export interface Fn {
  name: string;
  description?: string;
  parameters?: unknown;
}

export type Message =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content?: string; tool_calls?: { id: string; name: string; arguments: unknown }[] }
  | { role: "tool"; content: string; tool_call_id: string };

export const WEATHER: Fn = {
  name: "get_weather",
  description: "Current weather in a city.",
  parameters: {
    type: "object",
    properties: {
      city: { type: "string", description: "The city, e.g. Paris" },
      days: { type: "integer", minimum: 1, maximum: 7 },
      unit: { type: "string", enum: ["celsius", "fahrenheit"] },
    },
    required: ["city", "days"],
  },
};

export const TIME: Fn = {
  name: "get_time",
  description: "The local time in a timezone.",
  parameters: { type: "object", properties: { timezone: { type: "string", pattern: "^[A-Z][a-z]+/[A-Z][a-z]+$" } }, required: ["timezone"] },
};

export const PING: Fn = { name: "ping", description: "No arguments." };

const fnJson = (f: Fn) => ({ type: "function", function: f });

/** Qwen2.5's template: system text (with instructions) then the tools block; tool results in one user turn. */
export function qwenPrompt(messages: Message[], tools: Fn[] = [], instructions: string[] = []): string {
  const first = messages[0];
  const system = [first?.role === "system" ? first.content : "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", ...instructions].join("\n\n");
  let out = `<|im_start|>system\n${system}`;
  if (tools.length > 0) {
    out += "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    for (const t of tools) out += `\n${pyJson(fnJson(t))}`;
    out += '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>';
  }
  out += "<|im_end|>\n";
  messages.forEach((m, i) => {
    if (m.role === "system") {
      if (i > 0) out += `<|im_start|>system\n${m.content}<|im_end|>\n`;
    } else if (m.role === "user") out += `<|im_start|>user\n${m.content}<|im_end|>\n`;
    else if (m.role === "assistant") {
      if (!m.tool_calls) out += `<|im_start|>assistant\n${m.content ?? ""}<|im_end|>\n`;
      else {
        out += "<|im_start|>assistant" + (m.content ? `\n${m.content}` : "");
        for (const c of m.tool_calls) out += `\n<tool_call>\n{"name": "${c.name}", "arguments": ${pyJson(c.arguments)}}\n</tool_call>`;
        out += "<|im_end|>\n";
      }
    } else {
      if (messages[i - 1]?.role !== "tool") out += "<|im_start|>user";
      out += `\n<tool_response>\n${m.content}\n</tool_response>`;
      if (messages[i + 1]?.role !== "tool") out += "<|im_end|>\n";
    }
  });
  return `${out}<|im_start|>assistant\n`;
}

/** Mistral v0.3's template: tools before the last user turn, system (and instructions) inside the last turn. */
export function mistralPrompt(messages: Message[], tools: Fn[] = [], instructions: string[] = []): string {
  const systemMessage = messages[0]?.role === "system" ? messages[0].content : undefined;
  const system = [...(systemMessage === undefined ? [] : [systemMessage]), ...instructions].join("\n\n") || undefined;
  const loop = systemMessage === undefined ? messages : messages.slice(1);
  const lastUser = loop.map((m) => m.role).lastIndexOf("user");
  let out = "<s>";
  loop.forEach((m, i) => {
    if (m.role === "user") {
      if (tools.length > 0 && i === lastUser) {
        const entries = tools.map((t) => {
          const fields = Object.entries(t).map(([k, v]) => (typeof v === "string" ? `"${k}": "${v}"` : `"${k}": ${pyJson(v)}`));
          return `{"type": "function", "function": {${fields.join(", ")}}}`;
        });
        out += `[AVAILABLE_TOOLS] [${entries.join(", ")}][/AVAILABLE_TOOLS]`;
      }
      out += i === loop.length - 1 && system !== undefined ? `[INST] ${system}\n\n${m.content}[/INST]` : `[INST] ${m.content}[/INST]`;
    } else if (m.role === "assistant" && m.tool_calls) {
      out += `[TOOL_CALLS] [${m.tool_calls.map((c) => `${pyJson({ name: c.name, arguments: c.arguments }).slice(0, -1)}, "id": "${c.id}"}`).join(", ")}]</s>`;
    } else if (m.role === "assistant") {
      out += ` ${(m.content ?? "").trim()}</s>`;
    } else if (m.role === "tool") {
      out += `[TOOL_RESULTS] {"content": ${m.content}, "call_id": "${m.tool_call_id}"}[/TOOL_RESULTS]`;
    }
  });
  return out;
}

const GOOGLE_PREAMBLE =
  "You have access to functions. If you decide to invoke any of the function(s),\nyou MUST put it in the format of\n" +
  "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]\n" +
  "You SHOULD NOT include any other text in the response if you call a function\n";

const VLLM_PREAMBLE =
  "Tools (functions) are available. If you decide to invoke one or more of the tools, you must respond with a python list of the function calls.\n" +
  "Example Format: [func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)] \n" +
  "Do not use variables. DO NOT USE MARKDOWN SYNTAX. You SHOULD NOT include any other text in the response if you call a function. If none of the functions can be used, point it out. If you lack the parameters required by the function, also point it out.\n" +
  "Here is a list of functions in JSON format that you can invoke.\n";

/** JSON with an indent of four, as Jinja's tojson(indent=4) writes it. */
function indented(value: unknown): string {
  return JSON.stringify(value, null, 4);
}

function pythonArgs(args: unknown): string {
  return Object.entries(args as Record<string, unknown>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
}

/**
 * Gemma: system text and instructions open the first user turn, then the function-calling prompt
 * (Google's wording by default, vLLM's with `style: "vllm"`) and the functions, then the user's words.
 */
export function gemmaPrompt(messages: Message[], tools: Fn[] = [], instructions: string[] = [], style: "google" | "vllm" = "google"): string {
  const systemMessage = messages[0]?.role === "system" ? messages[0].content : undefined;
  const loop = systemMessage === undefined ? messages : messages.slice(1);
  const lead = [...(systemMessage === undefined ? [] : [systemMessage]), ...instructions];
  let out = "<bos>";
  loop.forEach((m, i) => {
    out += `<start_of_turn>${m.role === "assistant" ? "model" : "user"}\n`;
    if (i === 0) {
      if (lead.length > 0) out += `${lead.join("\n\n")}\n\n`;
      if (tools.length > 0) {
        out += style === "google" ? GOOGLE_PREAMBLE + indented(tools) : VLLM_PREAMBLE + indented(tools.map(fnJson));
        out += "\n\n";
      }
    }
    if (m.role === "assistant" && m.tool_calls) out += `[${m.tool_calls.map((c) => `${c.name}(${pythonArgs(c.arguments)})`).join(", ")}]`;
    if (m.role === "tool") out += `<tool_response>\n${m.content.trim()}</tool_response>`;
    else out += (m.content ?? "").trim();
    out += "<end_of_turn>\n";
  });
  return `${out}<start_of_turn>model\n`;
}
