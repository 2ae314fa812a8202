import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findDuplicateKey, parseJsonBody, parseStrictJson } from './json-strict.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const errorOf = (s: string | Buffer) => {
  const r = parseStrictJson(typeof s === 'string' ? bytes(s) : s);
  return 'error' in r ? r.error : undefined;
};

describe('strict JSON', () => {
  it('parses what JSON.parse parses when no key repeats', () => {
    const text =
      '{"type":"response.create","response":{"conversation":"none","metadata":{"a":"\\"}"}},"list":[{"a":1},{"a":2}]}';
    expect(parseStrictJson(bytes(text))).toEqual({ value: JSON.parse(text) });
  });

  it('refuses a key repeated at the top, however it is spelled', () => {
    expect(errorOf('{"type":"session.update","type":"response.create"}')).toMatchObject({
      code: 'duplicate_key',
      param: 'type',
    });
    expect(errorOf('{"type":"a","typ\\u0065":"b"}')).toMatchObject({ code: 'duplicate_key', param: 'type' });
    expect(errorOf('{"\\u0074\\u0079\\u0070\\u0065":"a", "type" : "b"}')).toMatchObject({ param: 'type' });
    // Escaped and literal non-ASCII keys compare as the same text.
    expect(errorOf('{"é":1,"\\u00e9":2}')).toMatchObject({ param: 'é' });
  });

  it('refuses a key repeated at any depth, with its path', () => {
    expect(errorOf('{"session":{"audio":{"input":{"format":1,"format":2}}}}')).toMatchObject({
      param: 'session.audio.input.format',
    });
    expect(errorOf('{"messages":[{"role":"user"},{"role":"user","role":"system"}]}')).toMatchObject({
      param: 'messages[1].role',
    });
  });

  it('keeps equal keys in different objects, and keys that only look alike', () => {
    expect('value' in parseStrictJson(bytes('{"a":{"b":1},"c":{"b":2},"d":[{"b":1},{"b":2}]}'))).toBe(true);
    expect('value' in parseStrictJson(bytes('{"a":1,"A":2,"a ":3,"\\u0061\\u0062":4}'))).toBe(true);
    // A quote or brace inside a string value is not structure.
    expect('value' in parseStrictJson(bytes('{"a":"x\\",\\"a\\":\\"y","b":"}{,"}'))).toBe(true);
  });

  it('finds a repeat among many keys (past the linear scan)', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
    expect('value' in parseStrictJson(bytes(`{${keys.join(',')}}`))).toBe(true);
    expect(errorOf(`{${keys.join(',')},"k7":0}`)).toMatchObject({ param: 'k7' });
  });

  it('refuses invalid UTF-8, nesting past the limit, and malformed text', () => {
    expect(errorOf(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toMatchObject({
      code: 'invalid_utf8',
    });
    expect(errorOf(`${'['.repeat(200)}${']'.repeat(200)}`)).toMatchObject({ code: 'json_too_deep' });
    expect(errorOf('{"a":')).toMatchObject({ code: 'invalid_json' });
    expect(errorOf('{"a":"\\x"}')).toMatchObject({ code: 'invalid_json' });
  });

  it('never throws, and agrees with JSON.parse on any text without repeated keys', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const strict = parseStrictJson(bytes(text));
        let native: unknown;
        try {
          native = { value: JSON.parse(text) };
        } catch {
          native = undefined;
        }
        if ('value' in strict) expect(strict).toEqual(native);
        else if (native) expect(strict.error.code).toBe('duplicate_key');
      }),
      { numRuns: 2000 },
    );
  });

  it('finds every repeat JSON.parse would have hidden: parsed keys are fewer than written ones', () => {
    const obj = fc.dictionary(fc.constantFrom('a', 'b', 'type', 'é', '\u2028'), fc.integer(), { maxKeys: 5 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom<string>('a', 'b', 'type', 'é', 'inner'), fc.integer()), { maxLength: 6 }),
        obj,
        (pairs, inner) => {
          const members = pairs.map(([k, v], i) => `${i % 2 ? JSON.stringify(k) : escapeAll(k)}:${v}`);
          const text = `{"inner":${JSON.stringify(inner)}${members.length ? ',' : ''}${members.join(',')}}`;
          const repeated = new Set(pairs.map(([k]) => k)).size < pairs.length || pairs.some(([k]) => k === 'inner');
          expect(findDuplicateKey(bytes(text)) !== undefined).toBe(repeated);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('answers an HTTP body with the 400 that names the repeated key', () => {
    expect(parseJsonBody(bytes('{"model":"a","model":"b"}'))).toMatchObject({
      kind: 'invalid_request',
      param: 'model',
      code: 'duplicate_key',
    });
    expect(parseJsonBody(bytes('{"kind":"not_found"}'))).toEqual({ value: { kind: 'not_found' } });
  });
});

/** `k` with every character written as a `\uXXXX` escape. */
function escapeAll(k: string): string {
  return `"${[...k].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;
}
