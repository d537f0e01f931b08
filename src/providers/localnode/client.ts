import { prefillMessages } from "../../policy";
import { upstreamErrorFrom } from "../errors";
import { deadline, send, sendJson, type Transport } from "../http";
import { tracedUpstreamStream } from "../../telemetry/upstream";
import { sseEvents, streamEventNote, type UpstreamStreamEvent } from "../stream";
import { PROVIDER } from "./errors";
import type { AgentTurn } from "../../structured/types";
import { openAiChunkEvents, toLocalInference, turnRequestBody, type ChatCompletion, type LocalInference, type ModelList } from "./mapping";

export interface LocalNodeConfig extends Transport {
  /** Cloudflare Access service token protecting the tunnel, when there is one. */
  accessClientId?: string;
  accessClientSecret?: string;
  apiKey?: string;
  timeoutMs?: number;
  inferenceTimeoutMs?: number;
}

/**
 * The local-node connector: an OpenAI-compatible server (mlx_lm.server and friends) reached
 * through a tunnel. No allocations: the node is there or it is not.
 */
export class LocalNodeClient {
  constructor(private readonly config: LocalNodeConfig) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.config.accessClientId) h["cf-access-client-id"] = this.config.accessClientId;
    if (this.config.accessClientSecret) h["cf-access-client-secret"] = this.config.accessClientSecret;
    if (this.config.apiKey) h.authorization = `Bearer ${this.config.apiKey}`;
    return h;
  }

  async models(): Promise<string[]> {
    const list = await sendJson<ModelList>(PROVIDER, this.config, "/v1/models", { op: "models", headers: this.headers(), timeoutMs: this.config.timeoutMs ?? 5_000 });
    return list.data.map((m) => m.id);
  }

  /** A chat completion; `timeoutMs` shortens the configured inference timeout (a strike's deadline). */
  async infer(req: { model: string; prompt: string; promptTokens: number; maxTokens: number; temperature: number }, timeoutMs = Infinity): Promise<LocalInference> {
    const completion = await sendJson<ChatCompletion>(PROVIDER, this.config, "/v1/chat/completions", {
      method: "POST",
      op: "infer",
      about: { model: req.model },
      headers: this.headers(),
      body: { model: req.model, messages: [{ role: "user", content: req.prompt }], max_tokens: req.maxTokens, temperature: req.temperature },
      timeoutMs: Math.min(this.config.inferenceTimeoutMs ?? 120_000, timeoutMs),
    });
    return toLocalInference(completion, req.promptTokens);
  }

  /** An agent turn (tools, response format) as a plain chat completion, read back whole. */
  async inferTurn(req: { model: string; turn: AgentTurn; maxTokens: number; temperature: number; seed?: number }, timeoutMs = Infinity): Promise<ChatCompletion> {
    return sendJson<ChatCompletion>(PROVIDER, this.config, "/v1/chat/completions", {
      method: "POST",
      op: "infer",
      about: { model: req.model },
      headers: this.headers(),
      body: { model: req.model, ...turnRequestBody(req.turn), max_tokens: req.maxTokens, temperature: req.temperature, ...(req.seed !== undefined ? { seed: req.seed } : {}) },
      timeoutMs: Math.min(this.config.inferenceTimeoutMs ?? 120_000, timeoutMs),
    });
  }

  /**
   * Streaming chat completion; resolves when the node starts answering (within `headersTimeoutMs`).
   * With `prefill`, the answer so far: the node continues it (see prefillMessages).
   */
  async inferStream(
    req: { model: string; prompt: string; maxTokens: number; temperature: number; prefill?: string },
    headersTimeoutMs: number,
  ): Promise<ReadableStream<UpstreamStreamEvent>> {
    const path = "/v1/chat/completions";
    // The span lasts until the stream's last event: that is when the call is over.
    return tracedUpstreamStream({ provider: PROVIDER, op: "infer", method: "POST", path, model: req.model }, async (call, hooks) => {
      const { signal, clear } = deadline(headersTimeoutMs);
      const res = await send(
        PROVIDER,
        this.config,
        path,
        {
          method: "POST",
          headers: this.headers(),
          body: {
            model: req.model,
            ...(req.prefill === undefined
              ? { messages: [{ role: "user", content: req.prompt }] }
              : { messages: prefillMessages(req.prompt, req.prefill), continue_final_message: true, add_generation_prompt: false }),
            max_tokens: req.maxTokens,
            temperature: req.temperature,
            stream: true,
            stream_options: { include_usage: true },
          },
          timeoutMs: headersTimeoutMs,
          traceparent: call.traceparent,
        },
        signal,
      ).finally(clear);
      call.status(res.status);
      if (!res.ok || !res.body) throw await upstreamErrorFrom(PROVIDER, res);
      return sseEvents(res.body, openAiChunkEvents({ finishReason: "stop" }), hooks);
    }, streamEventNote);
  }
}
