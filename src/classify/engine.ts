// The host side of the WebAssembly classifier: writes the text into the module's memory, makes
// the one call, and reads the fixed result record. Shared by the edge (src/classify/index.ts)
// and the Node tools (training, evaluation, benches), so every caller runs the same path.
import { LATENCY_CLASSES, TASK_LABELS, type Classification } from "../schema/classification";

export interface ClassifierExports {
  memory: WebAssembly.Memory;
  input(): number;
  classify(len: number, windowScale: number): number;
  extract(len: number): number;
  recordedFeatures(): number;
  namespaceCounts(): number;
  denseFeatures(): number;
  layout(): number;
  useWeights(sparse: number, scales: number, dense: number): void;
  weightsScratch(): number;
}

export interface ClassifierLayout {
  labels: number;
  lanes: number;
  hashBits: number;
  dense: number;
  namespaces: number;
  inputCapacity: number;
  weightsId: number;
  weightsFit: boolean;
}

/**
 * Below this top-label probability the reading is reported as not confident (`confident: false`)
 * and routing does not act on the label. The probabilities are calibrated (temperature-scaled on
 * leave-one-source-out predictions, see wasm/README.md), so it means what it says: on prompts
 * from sources the classifier never saw, readings under it are wrong about half the time.
 */
export const CONFIDENCE_THRESHOLD = 0.5;

/** Longer texts are read as their head and tail: instructions sit at either end of a long paste. */
export const WINDOW_HEAD_UNITS = 24 * 1024;
export const WINDOW_TAIL_UNITS = 8 * 1024;

const encoder = new TextEncoder();

/** Cuts before `at` if a surrogate pair would be split there. */
function safeCut(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at - 1 : at;
}

export class Classifier {
  readonly exports: ClassifierExports;
  readonly layout: ClassifierLayout;
  readonly version: string;
  private readonly inputAt: number;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as ClassifierExports;
    this.inputAt = this.exports.input();
    const at = this.exports.layout();
    const v = new DataView(this.exports.memory.buffer, at, 32);
    this.layout = {
      labels: v.getInt32(0, true),
      lanes: v.getInt32(4, true),
      hashBits: v.getInt32(8, true),
      dense: v.getInt32(12, true),
      namespaces: v.getInt32(16, true),
      inputCapacity: v.getInt32(20, true),
      weightsId: v.getUint32(24, true),
      weightsFit: v.getInt32(28, true) === 1,
    };
    this.version = `cls-${this.layout.weightsId.toString(16).padStart(8, "0")}`;
  }

  /** Writes the text (or its head and tail) as UTF-8; returns the byte length and the window scale. */
  write(text: string): { length: number; scale: number } {
    let window = text;
    if (text.length > WINDOW_HEAD_UNITS + WINDOW_TAIL_UNITS) {
      const head = safeCut(text, WINDOW_HEAD_UNITS);
      const tail = safeCut(text, text.length - WINDOW_TAIL_UNITS) + 1;
      window = `${text.slice(0, head)}\n${text.slice(tail)}`;
    }
    // The window is at most 32 Ki UTF-16 units, so at most 96 KiB of UTF-8: it always fits.
    const target = new Uint8Array(this.exports.memory.buffer, this.inputAt, this.layout.inputCapacity);
    const { written } = encoder.encodeInto(window, target);
    return { length: written, scale: window.length > 0 ? text.length / window.length : 1 };
  }

  /** Classifies raw bytes (any bytes: invalid UTF-8 reads as U+FFFD). */
  classifyBytes(bytes: Uint8Array): Classification {
    const length = Math.min(bytes.byteLength, this.layout.inputCapacity);
    new Uint8Array(this.exports.memory.buffer, this.inputAt, length).set(bytes.subarray(0, length));
    return this.read(this.exports.classify(length, bytes.byteLength / Math.max(1, length)));
  }

  classify(text: string): Classification {
    const { length, scale } = this.write(text);
    return this.read(this.exports.classify(length, scale));
  }

  private read(at: number): Classification {
    const v = new DataView(this.exports.memory.buffer, at, 64);
    const label = TASK_LABELS[v.getInt32(48, true)];
    const latency = LATENCY_CLASSES[v.getInt32(44, true)];
    if (label === undefined || latency === undefined) throw new Error("classifier returned an out-of-range record");
    const probabilities = {} as Record<(typeof TASK_LABELS)[number], number>;
    TASK_LABELS.forEach((label, i) => {
      probabilities[label] = v.getFloat32(i * 4, true);
    });
    return {
      label,
      probabilities,
      confident: probabilities[label] >= CONFIDENCE_THRESHOLD,
      complexity: v.getFloat32(32, true),
      prompt_tokens: v.getInt32(36, true),
      output_tokens: v.getInt32(40, true),
      latency_class: latency,
      classifier: this.version,
    };
  }
}

export function instantiateClassifier(module: WebAssembly.Module): Classifier {
  return new Classifier(new WebAssembly.Instance(module, {}));
}
