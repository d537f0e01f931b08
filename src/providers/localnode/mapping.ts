// Wire shapes of the OpenAI-compatible chat API that mlx_lm.server, llama.cpp and vLLM serve.
export interface ChatCompletionRequest {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature: number;
  stream?: boolean;
}

export interface ChatCompletion {
  id: string;
  model: string;
  choices: { index: number; message: { role: string; content: string | null }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ModelList {
  data: { id: string }[];
}

/** The local node's answer in the shape a strike records (the node bills nothing per token). */
export interface LocalInference {
  text: string;
  finish_reason: "stop" | "length";
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export function toLocalInference(c: ChatCompletion, promptTokensEstimate: number): LocalInference {
  const choice = c.choices[0];
  const text = choice?.message.content ?? "";
  const usage = c.usage ?? {
    prompt_tokens: promptTokensEstimate,
    completion_tokens: Math.ceil(text.length / 4),
    total_tokens: promptTokensEstimate + Math.ceil(text.length / 4),
  };
  return { text, finish_reason: choice?.finish_reason === "length" ? "length" : "stop", usage };
}
