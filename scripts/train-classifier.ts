// `npm run train:classifier`: trains the request classifier and writes the weights the WASM build
// embeds (wasm/model/weights.bin + weights.json), then rebuilds the module with them.
//
// Data: ../shared/data/prompts/train.jsonl without its non-commercial sources and without the
// evaluation set it used to carry (wasm/lib/dataset.ts, EXCLUDED_SOURCES), the public prompts
// committed in wasm/data/public, and the project's own prompts in wasm/data/supplement. Features come from the compiled module's own
// extractor, so training sees exactly what the edge computes. The seed fixes the result.
import { TASK_LABELS } from "../src/schema/classification";
import { CONFIDENCE_THRESHOLD } from "../src/classify/engine";
import { EXCLUDED_SOURCES, NON_COMMERCIAL_REPOS, isCommercial, readLabelled, readSupplement, repoOf } from "../wasm/lib/dataset";
import { extractFeatures } from "../wasm/lib/features";
import { score } from "../wasm/lib/metrics";
import { buildClassifier, featuresDigest, loadClassifier } from "../wasm/lib/node";
import { RECIPE, SEED, fitTemperature, predictWithModule, probabilitiesWithModule, trainRecipe, withTemperature } from "../wasm/lib/pipeline";
import { quantise, weightsId, writeWeights } from "../wasm/lib/weights";

const started = Date.now();
// The feature extractor is whatever the sources say now; the weights in it do not matter here.
await buildClassifier({ untrained: true });
const classifier = await loadClassifier();

const corpus = readLabelled();
const shipped = corpus.filter(isCommercial);
const supplement = readSupplement();
const examples = [...shipped, ...supplement];
console.log(
  `training on ${shipped.length} public prompts (excluded as non-commercial: ${NON_COMMERCIAL_REPOS.join(", ")}: ` +
    `${corpus.length - shipped.length}) and ${supplement.length} supplement prompts`,
);

const features = extractFeatures(classifier, examples.map((e) => e.text));

// Calibration: the probabilities should mean what they say on prompts from sources the model has
// not seen, so the temperature is fitted on leave-one-source-out predictions (each public
// repository held out in turn, the rest and the supplement trained on, as shipped).
const targets = Int32Array.from(examples, (e) => TASK_LABELS.indexOf(e.label));
const publicRows = shipped.map((_, i) => i);
const heldOut: Float64Array[] = [];
const heldOutTargets: number[] = [];
for (const repo of new Set(shipped.map((e) => repoOf(e.source)))) {
  const test = publicRows.filter((r) => repoOf(examples[r]!.source) === repo);
  const train = examples.map((_, i) => i).filter((r) => repoOf(examples[r]!.source) !== repo);
  const fold = quantise(trainRecipe(classifier, features, examples, train, RECIPE, SEED));
  heldOut.push(...probabilitiesWithModule(classifier, fold, test.map((r) => examples[r]!.text)));
  heldOutTargets.push(...test.map((r) => targets[r]!));
}
const temperature = fitTemperature(heldOut, heldOutTargets);
// What `confident` means on prompts from unseen sources, at the fitted temperature.
const calibrated = heldOut.map((p) => {
  const q = Array.from(p, (v) => Math.pow(Math.max(v, 1e-12), 1 / temperature));
  const total = q.reduce((a, b) => a + b, 0);
  const top = q.indexOf(Math.max(...q));
  return { top, p: q[top]! / total };
});
const sure = calibrated.map((c, i) => ({ ...c, right: c.top === heldOutTargets[i] })).filter((c) => c.p >= CONFIDENCE_THRESHOLD);
const unsure = calibrated.map((c, i) => ({ ...c, right: c.top === heldOutTargets[i] })).filter((c) => c.p < CONFIDENCE_THRESHOLD);
const heldOutConfidence = {
  confident_share: Number((sure.length / calibrated.length).toFixed(4)),
  accuracy_when_confident: Number((sure.filter((c) => c.right).length / Math.max(1, sure.length)).toFixed(4)),
  accuracy_when_not: Number((unsure.filter((c) => c.right).length / Math.max(1, unsure.length)).toFixed(4)),
};
console.log(`leave-one-source-out, calibrated: ${JSON.stringify(heldOutConfidence)}`);

const model = withTemperature(trainRecipe(classifier, features, examples, examples.map((_, i) => i), RECIPE, SEED), temperature);
const image = quantise(model);

// The quantised weights, run through the module itself, on the data they were trained on: a
// check that nothing was lost on the way into int8, not a measure of quality (see the bench).
const predicted = predictWithModule(classifier, image, examples.map((e) => e.text));
const fit = score(examples.map((e) => TASK_LABELS.indexOf(e.label)), predicted);

const sources = [...new Set(examples.map((e) => repoOf(e.source)))].sort();
writeWeights(image, {
  features_digest: await featuresDigest(),
  trained_at_seed: SEED,
  recipe: RECIPE,
  temperature,
  held_out_confidence: { threshold: CONFIDENCE_THRESHOLD, ...heldOutConfidence },
  layout: {
    labels: classifier.layout.labels,
    lanes: classifier.layout.lanes,
    hash_bits: classifier.layout.hashBits,
    dense: classifier.layout.dense,
  },
  examples: examples.length,
  sources,
  excluded_sources: [...NON_COMMERCIAL_REPOS, ...EXCLUDED_SOURCES],
  training_fit: { accuracy: Number(fit.accuracy.toFixed(4)), macro_f1: Number(fit.macroF1.toFixed(4)) },
});
await buildClassifier({ force: true });
console.log(
  `weights ${weightsId(image)}: ${image.bytes.byteLength} bytes; temperature ${temperature}; training fit accuracy=${fit.accuracy.toFixed(4)} ` +
    `macro_f1=${fit.macroF1.toFixed(4)}; done in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
