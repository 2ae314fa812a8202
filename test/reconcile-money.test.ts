import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nanoUsdOf, parseKeepingValues } from '../src/reconcile/decimal.js';
import { lineItemModel, modelKey } from '../src/reconcile/openai-side.js';

/** Exact money from the costs API's decimal amounts, and how line items and snapshots name models. */
describe('nano-USD from decimal amounts', () => {
  it('converts exactly where a double would not', () => {
    // A double rounds this one down: 68908.2085840945 parses to 68908.20858409449…
    expect(nanoUsdOf('68908.2085840945')).toBe(68_908_208_584_095);
    expect(Math.round(JSON.parse('68908.2085840945') * 1e9)).toBe(68_908_208_584_094);
    expect(nanoUsdOf('0.0405')).toBe(40_500_000);
    expect(nanoUsdOf('0.06')).toBe(60_000_000);
    expect(nanoUsdOf('1850.00')).toBe(1_850_000_000_000);
    expect(nanoUsdOf('4.05e-7')).toBe(405);
    expect(nanoUsdOf('1E+2')).toBe(100_000_000_000);
    expect(nanoUsdOf('0')).toBe(0);
    expect(nanoUsdOf('-0.0000000001')).toBe(0);
  });

  it('rounds half away from zero at the 9th decimal', () => {
    expect(nanoUsdOf('0.0000000005')).toBe(1);
    expect(nanoUsdOf('0.00000000049999999')).toBe(0);
    expect(nanoUsdOf('-0.0000000015')).toBe(-2);
    expect(nanoUsdOf('0.2400000000000001')).toBe(240_000_000);
  });

  it('refuses what is not a decimal number, and amounts beyond 2^53 nano-USD', () => {
    for (const bad of ['', 'abc', '1,5', '0x10', 'NaN', 'Infinity', '1e999', '.5', '1.'])
      expect(() => nanoUsdOf(bad), bad).toThrow(RangeError);
    expect(() => nanoUsdOf('10000000')).toThrow(/out of range/);
  });

  it('equals the exact rational rounding for any decimal (property)', () => {
    fc.assert(
      fc.property(
        // Up to 9 million USD (2^53 nano-USD is about 9.007 million) with 0 to 20 decimals.
        fc
          .integer({ min: 0, max: 20 })
          .chain((scale) =>
            fc.tuple(fc.constant(scale), fc.bigInt({ min: 0n, max: 9_000_000n * 10n ** BigInt(scale) })),
          ),
        fc.boolean(),
        ([scale, digits], negative) => {
          const text = `${negative ? '-' : ''}${digits / 10n ** BigInt(scale)}${scale ? `.${(digits % 10n ** BigInt(scale)).toString().padStart(scale, '0')}` : ''}`;
          // value = digits / 10^scale USD; nano = value × 1e9, rounded half away from zero.
          const num = digits * 10n ** 9n;
          const den = 10n ** BigInt(scale);
          const rounded = (num * 2n + den) / (den * 2n);
          const expected = negative && rounded !== 0n ? -Number(rounded) : Number(rounded);
          expect(nanoUsdOf(text)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps every "value" number of a JSON text as its exact text, and nothing else', () => {
    const text =
      '{"data":[{"amount":{"value":0.0405,"currency":"usd"},"n":0.1,"s":"\\"value\\": 1.5","value2":3}],"value":-1.25e-3}';
    expect(parseKeepingValues(text)).toEqual({
      data: [{ amount: { value: '0.0405', currency: 'usd' }, n: 0.1, s: '"value": 1.5', value2: 3 }],
      value: '-1.25e-3',
    });
    expect(() => parseKeepingValues('{"value": }')).toThrow(SyntaxError);
  });
});

describe('model names', () => {
  it('folds snapshot dates, and reads the model a line item names', () => {
    expect(modelKey('gpt-4o-mini-2024-07-18')).toBe('gpt-4o-mini');
    expect(modelKey('gpt-4o-mini')).toBe('gpt-4o-mini');
    expect(modelKey('ft:gpt-4o-mini-2024-07-18:acme::abc')).toBe('ft:gpt-4o-mini-2024-07-18:acme::abc');
    expect(modelKey('')).toBeNull();
    const known = new Set(['text-embedding-3-small']);
    expect(lineItemModel('gpt-4o-2024-08-06, cached input', known)).toBe('gpt-4o');
    expect(lineItemModel('text-embedding-3-small', known)).toBe('text-embedding-3-small');
    expect(lineItemModel('web search tool calls', known)).toBeNull();
    expect(lineItemModel(null, known)).toBeNull();
  });
});
