import { deserialize, serialize } from 'node:v8';

/** Where a `Date` sits inside a packed value: the keys and indexes leading to it from the top. */
type DatePath = (string | number)[];

/**
 * A value as it crosses the JSON channel between the SQLite ledger's owner and its workers:
 * - `{ j, d? }`: the value itself, which JSON carries faithfully but for its `Date`s, sent as ISO
 *   8601 strings (what `JSON.stringify` makes of them) and listed in `d` to be made `Date`s again;
 * - `{ v }`: anything else (a `Map`, a `Buffer`, `undefined` in an array, a non-finite number, a
 *   class instance), as V8's structured serialisation, base64.
 * The hot calls (admit, settle, their answers) are plain objects, numbers, strings and `Date`s:
 * JSON costs both processes about half of what the structured clone does (measured with node's IPC:
 * ~6 against ~12 µs of CPU a call on each side).
 */
export type Packed = { j: unknown; d?: DatePath[] } | { v: string };

/** `value` for the wire (see `Packed`). Never throws for a value the structured clone can carry. */
export function pack(value: unknown): Packed {
  const dates: DatePath[] = [];
  if (!plain(value, [], dates)) return { v: serialize(value).toString('base64') };
  return dates.length ? { j: value, d: dates } : { j: value };
}

/** The value `pack` was given, again (a copy). */
export function unpack(p: Packed): unknown {
  if ('v' in p) return deserialize(Buffer.from(p.v, 'base64'));
  if (!p.d) return p.j;
  if (p.d.length === 1 && p.d[0]!.length === 0) return new Date(p.j as string);
  for (const path of p.d) {
    let at = p.j as Record<string | number, unknown>;
    for (let i = 0; i < path.length - 1; i++) at = at[path[i]!] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    at[last] = new Date(at[last] as string);
  }
  return p.j;
}

/**
 * True when JSON carries `v` as it is (a `Date` counted in `dates` at its path): strings, booleans,
 * null, finite numbers but -0, valid `Date`s, arrays of such (no holes, no `undefined`) and plain
 * objects of such (an `undefined` property is left out, as if absent).
 */
function plain(v: unknown, path: DatePath, dates: DatePath[]): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (v[i] === undefined) return false;
          path.push(i);
          const ok = plain(v[i], path, dates);
          path.pop();
          if (!ok) return false;
        }
        return true;
      }
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) return false;
        dates.push([...path]);
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) continue;
        if (k === '__proto__') return false;
        path.push(k);
        const ok = plain(x, path, dates);
        path.pop();
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false; // undefined, bigint, symbol, function
  }
}
