// Agent turns: tool calls and structured outputs, rendered, checked and retried once.
export * from "./types";
export { answerTurn, TurnFailed, withCorrection, type BackendReply, type TurnBackend, type TurnResult } from "./answer";
export { interpret, unfence, type Verdict } from "./interpret";
export { renderTurn, turnInstructions } from "./render";
export { checkClientSchema, type SchemaCheck } from "./schema-guard";
export { schemaUsable, validateAgainst, type Validation } from "./validate";
