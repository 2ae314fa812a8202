import { isUtf8 } from 'node:buffer';
import { invalidRequest, type Denial } from './denial.js';
import { MAX_JSON_DEPTH } from './json-depth.js';

/**
 * Strict JSON: one meaning per text, or a refusal. `JSON.parse` quietly keeps the last of two equal
 * keys (`{"type":"a","type":"b"}`), other parsers keep the first or refuse, and a key may be spelled
 * with escapes (`"typ\u0065"` is `"type"`): a proxy that reads one value while the upstream reads
 * another can be walked around. So a text whose objects repeat a key — compared after unescaping,
 * at any depth — is refused here, as are invalid UTF-8 (RFC 8259 §8.1: JSON text exchanged between
 * systems MUST be UTF-8) and nesting past `maxDepth`, all before `JSON.parse` runs.
 *
 * Cost: one pass over the bytes after `isUtf8` (simdutf); strings are skipped with the native
 * `indexOf`, and only keys are decoded (see bench/profile/json-strict.ts for µs per KB against
 * `JSON.parse` alone).
 */

/** Why a text was refused; `param` locates it (`session.audio.input.type`, `messages[2].role`). */
export interface StrictJsonError {
  code: 'invalid_utf8' | 'json_too_deep' | 'duplicate_key' | 'invalid_json';
  message: string;
  param: string | null;
}

/** A parsed text (`value`), or why it was refused. */
export type StrictJson = { value: unknown } | { error: StrictJsonError };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** Keys an object holds before its lookups switch from a linear scan to a `Set`. */
const LINEAR_KEYS = 12;

/** A repeated key and where it is. */
interface Duplicate {
  key: string;
  path: string;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Bytes of a string scanned in JavaScript before `indexOf` (a native call) takes over: most keys and values are short. */
const INLINE_SCAN = 48;

/**
 * Scratch space, reused across calls (a scan never yields, so one runs at a time). The keys of the
 * open objects sit on one stack (`hashes`, `starts`, `ends`), each object's from `base[depth]` up;
 * an object's keys are compared by a 32-bit FNV-1a hash of their UTF-16 code units (computed on the
 * bytes for an ASCII key without escapes, the common case, with no string made); a hash seen twice
 * is confirmed on the decoded keys. An object past `LINEAR_KEYS` keys also gets a hash → slot map,
 * and after a collision between two different keys it compares decoded keys instead.
 */
let hashes = new Int32Array(1024);
let starts = new Int32Array(1024);
let ends = new Int32Array(1024);
const kinds: number[] = [];
const base: number[] = [];
const index: number[] = [];
const byHash: (Map<number, number> | undefined)[] = [];
const decoded: (Set<string> | undefined)[] = [];

/** Index of the quote closing the string opened at `open` (skipping escaped quotes), or -1. */
function stringEnd(buf: Buffer, open: number, n: number): number {
  let j = open + 1;
  const limit = Math.min(n, j + INLINE_SCAN);
  while (j < limit) {
    const c = buf[j];
    if (c === QUOTE) return j;
    j += c === BACKSLASH ? 2 : 1;
  }
  for (;;) {
    j = buf.indexOf(QUOTE, j);
    if (j < 0) return -1;
    let slashes = 0;
    for (let k = j - 1; buf[k] === BACKSLASH; k--) slashes++;
    if ((slashes & 1) === 0) return j;
    j++;
  }
}

/** The key whose text is `buf[start, end)`, unescaped; undefined when its escapes are malformed. */
function keyText(buf: Buffer, start: number, end: number): string | undefined {
  const raw = buf.toString('utf8', start, end);
  if (raw.indexOf('\\') < 0) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}

function hashText(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/** The hash of the key `buf[start, end)`, or undefined when its escapes are malformed. */
function keyHash(buf: Buffer, start: number, end: number): number | undefined {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x80 || c === BACKSLASH) {
      const text = keyText(buf, start, end);
      return text === undefined ? undefined : hashText(text);
    }
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h;
}

function grow(): void {
  const size = hashes.length * 2;
  const h = new Int32Array(size);
  const s = new Int32Array(size);
  const e = new Int32Array(size);
  h.set(hashes);
  s.set(starts);
  e.set(ends);
  hashes = h;
  starts = s;
  ends = e;
}

/** Pushes the key `buf[start, end)` of the object open at `depth` (keys up to `top`); true when the object already had it. */
function repeated(buf: Buffer, depth: number, top: number, start: number, end: number, hash: number): boolean {
  const from = base[depth]!;
  const seenSet = decoded[depth];
  if (seenSet) {
    const text = keyText(buf, start, end)!;
    if (seenSet.has(text)) return true;
    seenSet.add(text);
    return false;
  }
  const map = byHash[depth];
  let seen = -1;
  if (map) seen = map.get(hash) ?? -1;
  else
    for (let k = from; k < top; k++)
      if (hashes[k] === hash) {
        seen = k;
        break;
      }
  if (seen >= 0) {
    const text = keyText(buf, start, end)!;
    if (text === keyText(buf, starts[seen]!, ends[seen]!)) return true;
    // Two different keys with one hash: compare decoded keys from now on.
    const set = new Set<string>([text]);
    for (let k = from; k < top; k++) set.add(keyText(buf, starts[k]!, ends[k]!)!);
    decoded[depth] = set;
  } else if (map) map.set(hash, top);
  else if (top - from === LINEAR_KEYS) {
    const m = new Map<number, number>([[hash, top]]);
    for (let k = from; k < top; k++) m.set(hashes[k]!, k);
    byHash[depth] = m;
  }
  return false;
}

/** `a.b[2].c` of the keys and indexes open at `depth`, ending with `key`. */
function pathTo(buf: Buffer, depth: number, key: string): string {
  let path = '';
  for (let d = 1; d < depth; d++) {
    if (kinds[d] === OPEN_ARRAY) path += `[${index[d]}]`;
    else {
      // The key an inner object hangs from is the last one its parent pushed.
      const last = base[d + 1]! - 1;
      const name = keyText(buf, starts[last]!, ends[last]!);
      path += path ? `.${name}` : name;
    }
  }
  return path ? `${path}.${key}` : key;
}

/**
 * The first key repeated within one object of the JSON text in `buf`, `'too_deep'` once nesting
 * passes `maxDepth`, or undefined. Malformed text is not judged here (`JSON.parse` refuses it); the
 * scan never throws and is linear in the length.
 */
export function findDuplicateKey(buf: Buffer, maxDepth = MAX_JSON_DEPTH): Duplicate | 'too_deep' | undefined {
  let depth = 0;
  let top = 0;
  let expectKey = false;
  const n = buf.length;
  base[0] = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      const close = stringEnd(buf, i, n);
      if (close < 0) return undefined;
      if (expectKey) {
        expectKey = false;
        const hash = keyHash(buf, i + 1, close);
        if (hash === undefined) return undefined;
        if (repeated(buf, depth, top, i + 1, close, hash)) {
          const key = keyText(buf, i + 1, close)!;
          return { key, path: pathTo(buf, depth, key) };
        }
        if (top === hashes.length) grow();
        hashes[top] = hash;
        starts[top] = i + 1;
        ends[top] = close;
        top++;
      }
      i = close;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return 'too_deep';
      kinds[depth] = c;
      base[depth] = top;
      if (c === OPEN_OBJECT) {
        byHash[depth] = decoded[depth] = undefined;
        expectKey = true;
      } else {
        index[depth] = 0;
        expectKey = false;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) {
        top = base[depth]!;
        depth--;
      }
      expectKey = false;
    } else if (c === COMMA) {
      if (kinds[depth] === OPEN_OBJECT) expectKey = true;
      else index[depth]!++;
    }
  }
  return undefined;
}

/**
 * Parses `bytes` as one strict JSON text (see the module's comment): the value, or the refusal —
 * `invalid_utf8`, `json_too_deep` (past `maxDepth` levels, the top level counting 1),
 * `duplicate_key` (naming the key and its path, e.g. `response.conversation`), `invalid_json`
 * (`JSON.parse`'s message). Never throws.
 */
export function parseStrictJson(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): StrictJson {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(buf))
    return { error: { code: 'invalid_utf8', message: 'The JSON text is not valid UTF-8.', param: null } };
  const dup = findDuplicateKey(buf, maxDepth);
  if (dup === 'too_deep')
    return {
      error: { code: 'json_too_deep', message: `The JSON text nests deeper than ${maxDepth} levels.`, param: null },
    };
  if (dup)
    return {
      error: {
        code: 'duplicate_key',
        message: `The JSON text names the key '${dup.path}' more than once; send each key once.`,
        param: dup.path,
      },
    };
  try {
    return { value: JSON.parse(buf.toString('utf8')) };
  } catch (err) {
    return { error: { code: 'invalid_json', message: (err as Error).message, param: null } };
  }
}

/**
 * `parseStrictJson` for a request body: the value, or the 400 `invalid_request_error` to answer —
 * a repeated key names itself (`param`, code `duplicate_key`), so tollgate and the upstream can
 * never read two different values of one field. Nothing is changed by a refused body.
 */
export function parseJsonBody(raw: Uint8Array): { value: unknown } | Denial {
  return jsonBodyOf(parseStrictJson(raw));
}

/** `parseJsonBody`'s answer from `parseStrictJson`'s (wherever that ran: see http/json-off-loop.ts). */
export function jsonBodyOf(parsed: StrictJson): { value: unknown } | Denial {
  if ('value' in parsed) return parsed;
  const { code, message, param } = parsed.error;
  switch (code) {
    case 'invalid_json':
      return invalidRequest(`We could not parse the JSON body of your request. (${message})`);
    case 'json_too_deep':
      return invalidRequest(`The JSON body of your request nests deeper than ${MAX_JSON_DEPTH} levels.`, null, code);
    case 'invalid_utf8':
      return invalidRequest('The JSON body of your request is not valid UTF-8.', null, code);
    case 'duplicate_key':
      return invalidRequest(
        `The JSON body of your request names '${param}' more than once, so its value is ambiguous; send each key once.`,
        param,
        code,
      );
  }
}
