// Tools and structured output on the OpenAI API: the checks vLLM and OpenAI make across fields
// (a schema can only check one field at a time), and the conversation the shared answer policy
// reads, taken from the messages and parameters as they are.
import type { Conversation, Directives, OfferedTool, Turn } from "../../shared/tool-policy";
import { badRequest } from "./errors";
import { type ChatCompletionRequest, messageText } from "./schema";

/**
 * Throws the 400 an OpenAI-compatible server gives for a request whose tool fields do not fit
 * together: a tool_choice without tools, a named tool_choice that names none of them, duplicate
 * function names, tool_calls on a message that is not the assistant's, a tool message without
 * tool_call_id or not answering an assistant's tool_calls.
 */
export function checkToolFields(body: ChatCompletionRequest): void {
  const tools = body.tools ?? [];
  const choice = body.tool_choice;
  if (choice !== null && choice !== undefined && choice !== "none" && body.tools == null) {
    throw badRequest("When using `tool_choice`, `tools` must be set.", "tool_choice", "invalid_value");
  }
  if (typeof choice === "object" && choice !== null && !tools.some((t) => t.function.name === choice.function.name)) {
    throw badRequest(
      `The tool specified in \`tool_choice\` (${choice.function.name}) does not match any of the specified \`tools\`.`,
      "tool_choice",
      "invalid_value",
    );
  }
  const seen = new Set<string>();
  tools.forEach((tool, i) => {
    if (seen.has(tool.function.name)) {
      throw badRequest(`Duplicate function name '${tool.function.name}' in tools.`, `tools[${i}].function.name`, "invalid_value");
    }
    seen.add(tool.function.name);
  });
  let answering = false;
  body.messages.forEach((message, i) => {
    if (message.tool_calls != null && message.role !== "assistant") {
      throw badRequest(`Only assistant messages can have 'tool_calls'.`, `messages[${i}].tool_calls`, "invalid_value");
    }
    if (message.role === "tool") {
      if (message.tool_call_id == null) {
        throw badRequest(`Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`, "missing_required_parameter");
      }
      if (!answering) {
        throw badRequest(
          "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'.",
          `messages[${i}].role`,
          "invalid_value",
        );
      }
    } else answering = message.role === "assistant" && (message.tool_calls?.length ?? 0) > 0;
  });
}

/** The functions offered, as the policy sees them. */
export function offeredTools(body: ChatCompletionRequest): OfferedTool[] {
  return (body.tools ?? []).map((t) => (t.function.parameters == null ? { name: t.function.name } : { name: t.function.name, parameters: t.function.parameters }));
}

/** tool_choice, parallel_tool_calls and response_format as the policy's directives. */
export function directivesOf(body: ChatCompletionRequest): Directives {
  const choice = body.tool_choice;
  const directives: Directives = { mustCall: choice === "required", atMostOne: body.parallel_tool_calls === false };
  if (choice === "none") directives.noCalls = true;
  if (typeof choice === "object" && choice !== null) directives.named = choice.function.name;
  const format = body.response_format;
  if (format?.type === "json_object") directives.json = { kind: "object" };
  if (format?.type === "json_schema") {
    directives.json = format.json_schema.schema == null ? { kind: "object" } : { kind: "schema", schema: format.json_schema.schema };
  }
  return directives;
}

/** The messages and parameters as the policy's conversation (with no tools, "required" acts as "none"). */
export function conversationOf(body: ChatCompletionRequest): Conversation {
  const turns = body.messages.map((m): Turn => {
    const text = messageText(m);
    switch (m.role) {
      case "system":
      case "user":
        return { role: m.role, text };
      case "assistant":
        return { role: "assistant", text, calls: (m.tool_calls ?? []).map((c) => ({ name: c.function.name, id: c.id })) };
      case "tool":
        return { role: "tool", content: text, ...(m.tool_call_id == null ? {} : { callId: m.tool_call_id }), ...(m.name == null ? {} : { name: m.name }) };
    }
  });
  return { tools: offeredTools(body), directives: directivesOf(body), turns };
}

/** Does this request ask for anything the plain text generator does not give? */
export function asksForStructure(body: ChatCompletionRequest): boolean {
  return (body.tools?.length ?? 0) > 0 || body.response_format?.type === "json_object" || body.response_format?.type === "json_schema";
}
