import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack, unpack } from '../src/ledger/sqlite/wire-value.js';

/** What node's `json` IPC serialization does to a message. */
const overJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const roundTrip = (v: unknown) => unpack(overJson(pack(v)) as ReturnType<typeof pack>);

describe('the SQLite workers’ wire values (pack / unpack over JSON)', () => {
  it('carries an admission’s arguments as they were, Dates included, as JSON', () => {
    const now = new Date('2026-12-07T23:59:59.123Z');
    const quotas = [{ counterId: 'user:acme/alice:daily:2026-12-07', resetsAt: new Date('2026-12-08T00:00:00Z') }];
    const args = [{ id: 'req_1', tags: ['a', 'b'], userId: null, stream: false }, { maxTokens: 10 }, now, quotas, true];
    const packed = pack(args);
    expect('j' in packed).toBe(true); // not the structured-clone fallback
    const back = roundTrip(args) as typeof args;
    expect(back).toEqual(args);
    expect(back[2]).toBeInstanceOf(Date);
    expect((back[3] as typeof quotas)[0]!.resetsAt).toBeInstanceOf(Date);
  });

  it('carries a Date on its own', () => {
    const d = new Date(1_765_000_000_123);
    expect(roundTrip(d)).toEqual(d);
  });

  it('falls back to the structured clone for what JSON would change', () => {
    for (const v of [
      [1, undefined],
      [Number.NaN],
      [Number.POSITIVE_INFINITY],
      [-0],
      new Map([['a', 1]]),
      { when: new Date(Number.NaN) },
      Buffer.from('x'),
      10n,
    ]) {
      expect('v' in pack(v)).toBe(true);
      expect(roundTrip(v)).toEqual(v);
    }
  });

  it('leaves an undefined property out, as absent', () => {
    expect(roundTrip({ a: 1, b: undefined })).toEqual({ a: 1 });
  });

  it('round-trips any JSON-like value with Dates anywhere', () => {
    const date = fc.date({ noInvalidDate: true });
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.double({ noNaN: false }),
        fc.boolean(),
        fc.constant(null),
        date,
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4, noNullPrototype: true }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(roundTrip(v)).toStrictEqual(v);
      }),
    );
  });
});
