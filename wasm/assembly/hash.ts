// 32-bit hashing for feature buckets: FNV-1a to fold a token, murmur3's finaliser to spread it.

export const FNV_OFFSET: u32 = 0x811c9dc5;
const FNV_PRIME: u32 = 0x01000193;

// @ts-ignore: decorator
@inline export function fnvStep(h: u32, cp: u32): u32 {
  return (h ^ cp) * FNV_PRIME;
}

// @ts-ignore: decorator
@inline export function fmix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** Order-sensitive combination of two token hashes (a bigram). */
// @ts-ignore: decorator
@inline export function pair(a: u32, b: u32): u32 {
  return fmix(a * 0x9e3779b1 + rotl<u32>(b, 13) + 0x7f4a7c15);
}

/** Hash of an ASCII string literal exactly as the scanner hashes a lower-case word. */
export function wordHash(s: string): u32 {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, <u32>s.charCodeAt(i));
  return fmix(h);
}
