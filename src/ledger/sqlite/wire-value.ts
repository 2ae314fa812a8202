import { deserialize, serialize } from 'node:v8';

/** Where a `Date` sits inside a packed value: the keys and indexes leading to it from the top. */
type DatePath = (string | number)[];

/**
 * A value as it crosses the JSON channel between the SQLite ledger's owner and its workers:
 * - `{ j, d? }`: the value as JSON carries it, but for its `Date`s, sent as their time (ms since
 *   the epoch, UTC) and listed in `d` to be made `Date`s again;
 * - `{ v }`: anything else (a `Map`, a `Buffer`, `undefined` in an array, a non-finite number, a
 *   class instance), as V8's structured serialisation, base64.
 * The hot calls (admit, settle, their answers) are plain objects, numbers, strings and `Date`s.
 */
export type Packed = { j: unknown; d?: DatePath[] } | { v: string };

/** What `encode` returns for a value JSON would not carry as it is. */
const UNFIT = Symbol('unfit');

/** `value` for the wire (see `Packed`). Never throws for a value the structured clone can carry. */
export function pack(value: unknown): Packed {
  const dates: DatePath[] = [];
  const j = encode(value, [], dates);
  if (j === UNFIT) return { v: serialize(value).toString('base64') };
  return dates.length ? { j, d: dates } : { j };
}

/** The value `pack` was given, again. */
export function unpack(p: Packed): unknown {
  if ('v' in p) return deserialize(Buffer.from(p.v, 'base64'));
  if (!p.d) return p.j;
  let top = p.j;
  for (const path of p.d) {
    if (path.length === 0) {
      top = new Date(top as number);
      continue;
    }
    let at = top as Record<string | number, unknown>;
    for (let i = 0; i < path.length - 1; i++) at = at[path[i]!] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    at[last] = new Date(at[last] as number);
  }
  return top;
}

/** A string, boolean, null or finite number other than -0: JSON carries it as it is. */
const leaf = (x: unknown): boolean =>
  typeof x === 'string' ||
  typeof x === 'boolean' ||
  x === null ||
  (typeof x === 'number' && Number.isFinite(x) && !Object.is(x, -0));

/**
 * `v` as JSON will carry it: itself when it holds no `Date` (strings, booleans, null, finite numbers
 * but -0, arrays of such without holes or `undefined`, plain objects of such; an `undefined`
 * property is left out, as absent), else a copy along the way to each `Date`, which becomes its
 * time (its path noted in `dates`); `UNFIT` for anything else.
 */
function encode(v: unknown, path: DatePath, dates: DatePath[]): unknown {
  if (leaf(v)) return v;
  if (typeof v !== 'object') return UNFIT; // undefined, bigint, symbol, function
  if (v instanceof Date) {
    const t = v.getTime();
    if (Number.isNaN(t)) return UNFIT;
    dates.push([...path]);
    return t;
  }
  if (Array.isArray(v)) {
    let out: unknown[] = v;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (leaf(x)) continue;
      path.push(i);
      const y = encode(x, path, dates);
      path.pop();
      if (y === UNFIT) return UNFIT;
      if (y !== x) {
        if (out === v) out = v.slice();
        out[i] = y;
      }
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return UNFIT;
  let out = v as Record<string, unknown>;
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (leaf(x) || x === undefined) continue;
    if (k === '__proto__') return UNFIT;
    path.push(k);
    const y = encode(x, path, dates);
    path.pop();
    if (y === UNFIT) return UNFIT;
    if (y !== x) {
      if (out === v) out = { ...(v as Record<string, unknown>) };
      out[k] = y;
    }
  }
  return out;
}
