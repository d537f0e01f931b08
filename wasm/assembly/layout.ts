// The shape shared by the feature extractor, the embedded weights and the host glue. The host
// reads these numbers through `layout()` so it never hard-codes them.

/** Task labels, in this order everywhere: coding, math, reasoning, extraction, writing, roleplay, knowledge. */
export const LABELS: i32 = 7;
/** Weights are stored eight to a bucket (one lane unused) so a bucket is one aligned 8-byte load. */
export const LANES: i32 = 8;
export const HASH_BITS: i32 = 16;
export const BUCKETS: i32 = 1 << HASH_BITS;

/** Sparse feature namespaces; each is normalised on its own so no kind of feature drowns the others. */
export const NS_WORD: i32 = 0;
export const NS_BIGRAM: i32 = 1;
export const NS_HEAD: i32 = 2;
export const NS_TAIL: i32 = 3;
export const NS_LINE: i32 = 4;
export const NAMESPACES: i32 = 5;

/** Dense structure features (see dense.ts); index 0 is the constant bias input. */
export const DENSE: i32 = 28;

/** Bytes of UTF-8 the extractor reads; the host passes a head-and-tail window of longer texts. */
export const INPUT_CAPACITY: i32 = 96 * 1024;

export const LATENCY_INTERACTIVE: i32 = 0;
export const LATENCY_STANDARD: i32 = 1;
export const LATENCY_BATCH: i32 = 2;
