// Loading the compiled classifier in Node, for the training, evaluation and bench tools.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Classifier, instantiateClassifier } from "../../src/classify/engine";

export const WASM_PATH = fileURLToPath(new URL("../build/classifier.wasm", import.meta.url));

interface BuildModule {
  buildClassifier(opts?: { untrained?: boolean; force?: boolean; quiet?: boolean }): Promise<{ path: string; built: boolean }>;
  featuresDigest(): string;
}

// A computed specifier keeps the .mjs out of type-checking (it has no declarations).
const buildModuleUrl = new URL("../build.mjs", import.meta.url).href;

export async function buildClassifier(opts: { untrained?: boolean; force?: boolean } = {}): Promise<void> {
  const mod = (await import(buildModuleUrl)) as BuildModule;
  await mod.buildClassifier(opts);
}

// The project type-checks against the Workers globals, which leave out WebAssembly.compile; Node has it.
export const { compile } = WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };

/** Digest of the sources that define the features; stored with the weights trained on them. */
export async function featuresDigest(): Promise<string> {
  return ((await import(buildModuleUrl)) as BuildModule).featuresDigest();
}

export async function loadClassifier(path: string = WASM_PATH): Promise<Classifier> {
  return instantiateClassifier(await compile(readFileSync(path)));
}
