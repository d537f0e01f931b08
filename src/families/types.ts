// What a model family's chat template works with: the conversation as OpenAI clients send it,
// reduced to what a prompt can carry, and what comes back out of a completion.

/** A JSON Schema document (as tools and response formats carry them); validated elsewhere. */
export type JsonSchema = Record<string, unknown> | boolean;

/** One function a model may call: OpenAI's `tools[].function`. */
export interface ToolFunction {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object; absent means no arguments. */
  parameters?: JsonSchema;
}

/** A call an assistant made earlier in the conversation, as the client sends it back. */
export interface PastToolCall {
  id: string;
  name: string;
  /** The arguments as OpenAI carries them: a JSON text. */
  arguments: string;
}

export type TemplateMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: PastToolCall[] }
  | { role: "tool"; content: string; tool_call_id: string; name?: string };

/** Everything a prompt is rendered from. */
export interface RenderInput {
  messages: readonly TemplateMessage[];
  /** Functions offered to the model; absent or empty: none (also for `tool_choice: "none"`). */
  tools?: readonly ToolFunction[];
  /**
   * Extra instructions for this turn (which tool must be called, the JSON an answer must be,
   * a correction after an invalid answer), from `instructions.ts`. The family places them
   * where its template puts system text.
   */
  instructions?: readonly string[];
}

/** A call the model made, read back from its output: arguments parsed, not yet validated. */
export interface ParsedToolCall {
  name: string;
  /** The arguments as the model wrote them, parsed from JSON (or from Python-style keywords). */
  arguments: unknown;
}

export type ParsedOutput =
  | { ok: true; content: string | null; toolCalls: ParsedToolCall[] }
  | { ok: false; error: string; raw: string };

/** One model family's chat template and tool-call format (Gemma, Mistral, Qwen). Pure. */
export interface ModelFamily {
  id: "gemma" | "mistral" | "qwen";
  /** The prompt, ending where the model's answer begins. */
  render(input: RenderInput): string;
  /**
   * The model's completion read back: plain text, or tool calls in the family's format. `ok: false`
   * when the output plainly tries to call a tool but the call does not parse.
   */
  parse(output: string, tools: readonly ToolFunction[]): ParsedOutput;
  /**
   * The completion in which a model of this family makes these calls, in the format its template
   * renders past calls in (without an end-of-sequence token); `parse` reads it back. Emulators
   * answer with it.
   */
  formatCalls(calls: readonly ParsedToolCall[]): string;
}
