/**
 * Largest JSON nesting accepted in a request body (arrays and objects, the top level counting 1).
 * OpenAI's requests need a few dozen levels (messages → content parts → fields; a tool's or a
 * structured output's JSON Schema, which OpenAI itself caps at 5 to 10 levels of object nesting).
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The nesting depth of the JSON text in `bytes` as far as it must be read, or `MAX + 1` as soon as
 * it passes `max`: one iterative pass, linear in the size (strings are skipped with the native
 * `indexOf`), so it can run before `JSON.parse` — whose own time grows with nesting (1M levels take
 * seconds) — and before any walk over the parsed value. Malformed JSON is left for `JSON.parse` to refuse.
 */
export function jsonDepth(bytes: Uint8Array, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      let j = i + 1;
      for (;;) {
        j = bytes.indexOf(QUOTE, j);
        if (j < 0) return deepest; // unterminated string: JSON.parse refuses it
        let slashes = 0;
        for (let k = j - 1; bytes[k] === BACKSLASH; k--) slashes++;
        if (slashes % 2 === 0) break;
        j++;
      }
      i = j;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return max + 1;
      if (depth > deepest) deepest = depth;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
