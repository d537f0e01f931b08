// The speed bench's worker: the edge's own classifier code and module, timed inside workerd.
// Workers clocks are coarse (1 ms here), so each sample is one batch of calls; the bench sizes
// batches to take tens of milliseconds.
import { instantiateClassifier } from "../src/classify/engine";
import classifierModule from "../wasm/build/classifier.wasm";

interface BatchRequest {
  /** Texts classified in rotation. */
  texts: string[];
  callsPerBatch: number;
  batches: number;
}

const classifier = instantiateClassifier(classifierModule);

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/instantiate") {
      const count = Number(url.searchParams.get("count") ?? "100");
      const started = performance.now();
      for (let i = 0; i < count; i++) instantiateClassifier(classifierModule);
      return Response.json({ totalMs: performance.now() - started, count });
    }
    const { texts, callsPerBatch, batches } = (await request.json()) as BatchRequest;
    const batchMs: number[] = [];
    let checksum = 0;
    for (let b = 0; b < batches; b++) {
      const started = performance.now();
      for (let i = 0; i < callsPerBatch; i++) checksum += classifier.classify(texts[i % texts.length]!).prompt_tokens;
      batchMs.push(performance.now() - started);
    }
    return Response.json({ batchMs, checksum });
  },
};
