// Instructions a prompt carries for what OpenAI's API sets by parameter. Templates have no place
// for `tool_choice` or `response_format`; guided decoding would enforce them, a prompt-only API
// can only ask, and the answer is validated afterwards. The wording is fixed: the emulators
// recognise it the way a model follows it.

export const MUST_CALL_A_TOOL = "You must call one of the functions.";

export function mustCallTool(name: string): string {
  return `You must call the function ${name}.`;
}

export const ONE_CALL_AT_MOST = "Call at most one function in this turn.";

export const JSON_OBJECT = "Answer with a single JSON object and nothing else.";

/** A schema's JSON goes in a fenced block after this line, so it can be read back. */
export const JSON_SCHEMA_LEAD = "Answer with a single JSON value that matches this JSON Schema, and nothing else:";

export function jsonSchemaInstruction(schema: unknown): string {
  return `${JSON_SCHEMA_LEAD}\n\`\`\`json\n${JSON.stringify(schema)}\n\`\`\``;
}

/** The retry after an answer that did not parse or validate: the model sees why. */
export function correction(error: string): string {
  return `Your previous answer was not valid: ${error}. Answer again, correctly.`;
}
