// Finding where a JSON array or object ends inside a model's answer, so that only that slice is
// handed to JSON.parse and whatever follows it (an end-of-sequence marker, a remark) is not.

/**
 * The index just past the array or object that opens at `start`, or -1 when `start` is not an
 * opening bracket or the brackets never balance. Brackets inside strings do not count. One pass:
 * each character is looked at once.
 */
export function endOfJsonContainer(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first !== 0x5b && first !== 0x7b) return -1;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      if (i >= text.length) return -1;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The first index at or after `start` that is not JSON whitespace. */
export function skipJsonSpace(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}
