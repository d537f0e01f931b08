// Seeded randomness: every "random" choice the emulator makes is a pure function of its inputs,
// so two runs with the same SEED behave identically.
import { mulberry32 } from "../../shared/random";

export { mulberry32 };

/** FNV-1a, 32-bit, over the UTF-16 code units of `text`. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}


export function randomFor(...parts: readonly (string | number)[]): () => number {
  return mulberry32(fnv1a(JSON.stringify(parts)));
}

/** Identifiers only need to be unique, not reproducible, so they come from the system's CSPRNG. */
export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}
