// An agent turn as a family's prompt: what the parameters ask for becomes instructions.
import { JSON_OBJECT, jsonSchemaInstruction, MUST_CALL_A_TOOL, mustCallTool, ONE_CALL_AT_MOST } from "../families/instructions";
import type { ModelFamily } from "../families/types";
import { offeredTools, type AgentTurn } from "./types";

export function turnInstructions(turn: AgentTurn): string[] {
  const tools = offeredTools(turn);
  const out: string[] = [];
  if (tools.length > 0) {
    if (turn.toolChoice === "required") out.push(MUST_CALL_A_TOOL);
    if (typeof turn.toolChoice === "object") out.push(mustCallTool(turn.toolChoice.name));
    if (!turn.parallelToolCalls) out.push(ONE_CALL_AT_MOST);
  }
  if (turn.responseFormat.type === "json_object") out.push(JSON_OBJECT);
  if (turn.responseFormat.type === "json_schema") out.push(jsonSchemaInstruction(turn.responseFormat.schema));
  return out;
}

export function renderTurn(family: ModelFamily, turn: AgentTurn): string {
  const tools = offeredTools(turn);
  const instructions = turnInstructions(turn);
  return family.render({ messages: turn.messages, ...(tools.length ? { tools } : {}), ...(instructions.length ? { instructions } : {}) });
}
