// The baseline: multinomial naive Bayes over hashed lower-case word unigrams and bigrams, with
// add-one smoothing. Deliberately plain: it shows what the corpus gives away for free.

const BUCKETS = 1 << 20;

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) & (BUCKETS - 1);
}

/** A text's features: hashed words and word pairs (computed once, reused across folds). */
export function naiveBayesFeatures(text: string): Uint32Array {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Uint32Array(words.length * 2);
  let prev = "<s>";
  words.forEach((w, i) => {
    out[2 * i] = hash(w);
    out[2 * i + 1] = hash(`${prev} ${w}`);
    prev = w;
  });
  return out;
}

export class NaiveBayes {
  private readonly counts: Float64Array[];
  private readonly totals: Float64Array;
  private readonly docs: Float64Array;
  private vocabulary = 0;

  constructor(private readonly labels: number) {
    this.counts = Array.from({ length: labels }, () => new Float64Array(BUCKETS));
    this.totals = new Float64Array(labels);
    this.docs = new Float64Array(labels);
  }

  fit(features: readonly Uint32Array[], targets: ArrayLike<number>): this {
    const seen = new Uint8Array(BUCKETS);
    features.forEach((fs, i) => {
      const y = targets[i]!;
      this.docs[y]!++;
      for (const f of fs) {
        this.counts[y]![f]!++;
        this.totals[y]!++;
        if (seen[f] === 0) {
          seen[f] = 1;
          this.vocabulary++;
        }
      }
    });
    return this;
  }

  predict(features: Uint32Array): number {
    const docs = this.docs.reduce((a, b) => a + b, 0);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < this.labels; c++) {
      if (this.docs[c] === 0) continue;
      let s = Math.log(this.docs[c]! / docs);
      const denominator = Math.log(this.totals[c]! + this.vocabulary);
      for (const f of features) s += Math.log(this.counts[c]![f]! + 1) - denominator;
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    return best;
  }
}
