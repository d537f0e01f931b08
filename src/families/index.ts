// Chat templates and tool-call formats of the model families served through a prompt-only API:
// render a conversation to the prompt the family was trained on, read its answer back.
import { gemma } from "./gemma/index";
import { mistral } from "./mistral/index";
import { qwen } from "./qwen/index";
import type { ModelFamily } from "./types";

export * from "./types";
export * from "./instructions";
export { gemma, mistral, qwen };

export const MODEL_FAMILIES: Readonly<Record<ModelFamily["id"], ModelFamily>> = { gemma, mistral, qwen };

/**
 * The family a model id belongs to by its prefix (`gemma-2b-it` → Gemma); undefined for any other
 * id: rendering a prompt in a template the model was not trained on would answer, but badly.
 */
export function familyOf(modelId: string): ModelFamily | undefined {
  const prefix = modelId.slice(0, modelId.indexOf("-") + 1).toLowerCase();
  if (prefix === "gemma-") return gemma;
  if (prefix === "mistral-") return mistral;
  if (prefix === "qwen-") return qwen;
  return undefined;
}
