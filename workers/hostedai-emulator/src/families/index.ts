// Model families by model id: whose chat template a prompt for that model is rendered with.
import type { FamilyFormat } from "./format";
import { gemma } from "./gemma";
import { mistral } from "./mistral";
import { qwen } from "./qwen";

export type { CallToWrite, FamilyFormat, WrittenCalls } from "./format";

/** gemma-2b-it → Gemma, mistral-7b → Mistral (v0.3), qwen-14b/32b/70b → Qwen2.5; others: none. */
export function familyOf(model: string): FamilyFormat | undefined {
  const id = model.toLowerCase();
  if (id.startsWith("gemma")) return gemma;
  if (id.startsWith("mistral")) return mistral;
  if (id.startsWith("qwen")) return qwen;
  return undefined;
}

export { gemma, mistral, qwen };
