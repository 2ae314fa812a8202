import { calcPrice, findProvider, type ModelInfo, type ModelPrice } from '@pydantic/genai-prices';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Usage } from '../src/metering/usage.js';
import { costNanoUsd, PriceBook } from '../src/pricing/price.js';
import { SOURCE_MODELS, sourceModel } from '../src/pricing/source.js';
import { OWN_TABLE } from '../src/pricing/table.js';

/**
 * The price source as tollgate reads it. The property: for every OpenAI model of the installed
 * `@pydantic/genai-prices` and random usages (long-context tiers, cache reads and writes, audio
 * and image tokens in and out, dates across price changes), tollgate's integer cost equals a
 * decimal computation made here straight from the source's raw data — rationals of BigInts, no
 * float — and agrees with the package's own float total to within float error.
 */

const provider = findProvider({ providerId: 'openai' })!;
const RAW = new Map(provider.models.map((m) => [m.id, m]));

/** A decimal as the fraction it is written as (`String(n)`: `0.175` → 175/1000, `1e-7` → 1/10^7). */
function frac(n: number): [bigint, bigint] {
  const [m, e = '0'] = String(n).split('e');
  const [w, f = ''] = m!.split('.');
  const exp = Number(e) - f.length;
  return exp >= 0 ? [BigInt(w + f) * 10n ** BigInt(exp), 1n] : [BigInt(w + f), 10n ** BigInt(-exp)];
}

/** The raw prices of a source model in force at `at` (its `start_date` constraints, latest first). */
function rawPricesAt(m: ModelInfo, at: Date): ModelPrice {
  if (!Array.isArray(m.prices)) return m.prices;
  for (let i = m.prices.length - 1; i >= 0; i--) {
    const c = m.prices[i]!.constraint;
    if (!c || (c.type === 'start_date' && at >= new Date(c.start_date))) return m.prices[i]!.prices;
  }
  return m.prices[0]!.prices;
}

/** One key's price for a request of `input` input tokens: a tier's when input > its start (the source's rule). */
function keyPrice(p: ModelPrice, key: string, input: number): number | undefined {
  const v = p[key];
  if (v === undefined || typeof v === 'number') return v;
  let price = v.base;
  for (const t of v.tiers) if (input > t.start) price = t.price;
  return price;
}

/** The source's usage, in its own keys. */
interface SourceUsage {
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  input_audio_tokens: number;
  cache_audio_read_tokens: number;
  input_image_tokens: number;
  cache_image_read_tokens: number;
  output_tokens: number;
  output_audio_tokens: number;
  output_image_tokens: number;
}

/**
 * The reference: each part of the usage at the most specific price the source gives it (cached
 * audio at `cache_audio_read_mtok`, else `cache_read_mtok`, else `input_mtok`; …), summed as one
 * fraction of BigInts, rounded once half up to nano-USD.
 */
function referenceNano(p: ModelPrice, u: SourceUsage): bigint {
  const at = (key: string) => keyPrice(p, key, u.input_tokens);
  const first = (...keys: string[]) => keys.map(at).find((v) => v !== undefined);
  const parts: [number, number | undefined][] = [
    [
      u.input_tokens -
        u.cache_read_tokens -
        u.cache_write_tokens -
        (u.input_audio_tokens - u.cache_audio_read_tokens) -
        (u.input_image_tokens - u.cache_image_read_tokens),
      first('input_mtok'),
    ],
    [
      u.cache_read_tokens - u.cache_audio_read_tokens - u.cache_image_read_tokens,
      first('cache_read_mtok', 'input_mtok'),
    ],
    [u.cache_audio_read_tokens, first('cache_audio_read_mtok', 'cache_read_mtok', 'input_mtok')],
    [u.cache_image_read_tokens, first('cache_image_read_mtok', 'cache_read_mtok', 'input_mtok')],
    [u.cache_write_tokens, first('cache_write_mtok', 'input_mtok')],
    [u.input_audio_tokens - u.cache_audio_read_tokens, first('input_audio_mtok', 'input_mtok')],
    [u.input_image_tokens - u.cache_image_read_tokens, first('input_image_mtok', 'input_mtok')],
    [u.output_tokens - u.output_audio_tokens - u.output_image_tokens, first('output_mtok')],
    [u.output_audio_tokens, first('output_audio_mtok', 'output_mtok')],
    [u.output_image_tokens, first('output_image_mtok', 'output_mtok')],
  ];
  let num = 0n;
  let den = 1n;
  for (const [tokens, price] of parts) {
    if (!tokens || price === undefined) continue;
    const [pn, pd] = frac(price);
    const d = pd * 1_000_000n;
    num = num * d + BigInt(tokens) * pn * den;
    den *= d;
  }
  return (num * 1_000_000_000n * 2n + den) / (2n * den);
}

/** The same usage as tollgate records it (audio and image input as their uncached parts). */
const toUsage = (u: SourceUsage): Usage => ({
  inputTokens: u.input_tokens,
  cachedInputTokens: u.cache_read_tokens,
  cacheWriteTokens: u.cache_write_tokens,
  audioInputTokens: u.input_audio_tokens - u.cache_audio_read_tokens,
  cachedAudioInputTokens: u.cache_audio_read_tokens,
  imageInputTokens: u.input_image_tokens - u.cache_image_read_tokens,
  cachedImageInputTokens: u.cache_image_read_tokens,
  outputTokens: u.output_tokens,
  audioOutputTokens: u.output_audio_tokens,
  imageOutputTokens: u.output_image_tokens,
  reasoningTokens: 0,
  totalTokens: u.input_tokens + u.output_tokens,
});

/** Usages whose parts nest as the source requires (cached audio within audio and within cache reads, …). */
const usages = fc
  .record({
    input: fc.oneof(
      fc.integer({ min: 0, max: 2_000 }),
      fc.integer({ min: 0, max: 1_100_000 }),
      fc.constantFrom(271_999, 272_000, 272_001),
    ),
    cachedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    writeShare: fc.double({ min: 0, max: 1, noNaN: true }),
    audioShare: fc.double({ min: 0, max: 1, noNaN: true }),
    imageShare: fc.double({ min: 0, max: 1, noNaN: true }),
    output: fc.integer({ min: 0, max: 200_000 }),
    outAudioShare: fc.double({ min: 0, max: 1, noNaN: true }),
    outImageShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((r): SourceUsage => {
    const cached = Math.floor(r.input * r.cachedShare);
    const write = Math.floor((r.input - cached) * r.writeShare);
    const audio = Math.floor((r.input - write) * r.audioShare);
    const image = Math.floor((r.input - write - audio) * r.imageShare);
    // Cached audio and image within both the cache reads and their modality.
    const cachedAudio = Math.min(audio, Math.floor(cached * r.audioShare));
    const cachedImage = Math.min(image, Math.floor((cached - cachedAudio) * r.imageShare));
    const outAudio = Math.floor(r.output * r.outAudioShare);
    const outImage = Math.floor((r.output - outAudio) * r.outImageShare);
    return {
      input_tokens: r.input,
      cache_read_tokens: cached,
      cache_write_tokens: write,
      input_audio_tokens: audio,
      cache_audio_read_tokens: cachedAudio,
      input_image_tokens: image,
      cache_image_read_tokens: cachedImage,
      output_tokens: r.output,
      output_audio_tokens: outAudio,
      output_image_tokens: outImage,
    };
  });
const instants = fc.date({
  min: new Date('2024-01-01T00:00:00Z'),
  max: new Date('2027-12-31T00:00:00Z'),
  noInvalidDate: true,
});

/** An id the source's rule for a model matches (its own id, else the first name or prefix the rule gives). */
function exampleId(m: ModelInfo): string {
  const names: string[] = [m.id];
  const walk = (l: unknown) => {
    const o = l as Record<string, unknown>;
    if (Array.isArray(o.or)) o.or.forEach(walk);
    else if (typeof o.equals === 'string') names.push(o.equals);
    else if (typeof o.starts_with === 'string') names.push(`${o.starts_with}x`);
  };
  walk(m.match);
  return names.find((n) => sourceModel(n)?.id === m.id) ?? m.id;
}

const tokenModels = SOURCE_MODELS.filter((m) => m.unbilled.length === 0 && m.prices.length > 0);

describe('the installed price source', () => {
  it('prices the OpenAI models the proxy is asked for, and tollgate can bill every one of them', () => {
    expect(tokenModels.length).toBeGreaterThanOrEqual(80);
    expect(SOURCE_MODELS.filter((m) => m.unbilled.length > 0).map((m) => m.id)).toEqual([]);
  });

  it.each(tokenModels.map((m) => [m.id, m] as const))(
    '%s: integer cost = the decimal computation from the raw data, ≈ the package’s float total',
    (id, model) => {
      const raw = RAW.get(id)!;
      let compared = 0;
      fc.assert(
        fc.property(usages, instants, (u, at) => {
          const day = at.toISOString().slice(0, 10);
          // The entry tollgate holds in force that day (dated entries switch at the UTC day's start).
          const price = [...model.prices].reverse().find((p) => (p.effectiveFrom ?? '0000') <= day)!;
          const expected = referenceNano(rawPricesAt(raw, new Date(`${day}T00:00:00Z`)), u);
          const got = costNanoUsd(toUsage(u), price);
          expect(BigInt(got)).toBe(expected);
          const float = calcPrice(u as never, exampleId(raw), {
            providerId: 'openai',
            timestamp: new Date(`${day}T00:00:00Z`),
          });
          if (float) {
            compared += 1;
            expect(Math.abs(float.total_price * 1e9 - got)).toBeLessThanOrEqual(1 + got * 1e-12);
          }
        }),
        { numRuns: 40, seed: 30 },
      );
      expect(compared).toBeGreaterThan(0);
    },
  );
});

describe('tollgate’s own table holds only what the source lacks', () => {
  const PRICE_FIELDS = [
    'input',
    'cachedInput',
    'output',
    'audioInput',
    'audioOutput',
    'imageInput',
    'imageOutput',
    'cachedAudioInput',
    'cachedImageInput',
    'cacheWrite',
  ];
  /** Fields a supplement replaces on purpose, each said in the table's comment. */
  const CORRECTIONS: Record<string, string[]> = { 'gpt-image-2': ['output'] };

  it.each(Object.entries(OWN_TABLE))('%s', (name, entry) => {
    expect(entry.source).toMatch(/^https:\/\//);
    expect(entry.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const src = sourceModel(name);
    if (!entry.supplements) {
      expect(src, `${name} is priced by the source: drop it from the own table`).toBeUndefined();
      // A standalone entry is a complete price: Batch and flex take off its default 50 %.
      expect(new PriceBook({}).find(name, new Date('2026-12-07T00:00:00Z'))?.price.batchDiscount).toBe(0.5);
      return;
    }
    expect(src, `${name} supplements a model the source does not price`).toBeDefined();
    const srcPrice = src!.prices.at(-1)! as unknown as Record<string, unknown>;
    for (const field of PRICE_FIELDS)
      if ((entry as unknown as Record<string, unknown>)[field] !== undefined && !CORRECTIONS[name]?.includes(field))
        expect(srcPrice[field], `${name}.${field} duplicates the source`).toBeUndefined();
  });
});

describe('resolution', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  const config = parseConfig({
    companies: {
      acme: {
        name: 'Acme',
        fallbackPrices: [
          {
            models: ['ft:*:acme::*', 'house-llm'],
            price: { input: 9, output: 9, source: 'contract', date: '2026-11-01' },
          },
        ],
      },
    },
    prices: { 'gpt-5.4': { input: 1, output: 2, source: 'our discount', date: '2026-11-15' } },
  });
  const book = new PriceBook(config.prices, config.companies);

  it('asks the config first, for the id and every name it resolves to', () => {
    expect(book.find('gpt-5.4-2026-03-05', now)).toMatchObject({
      source: 'config',
      resolvedAs: 'gpt-5.4',
      price: { input: 1 },
    });
  });

  it('merges tollgate’s supplements over the source’s entry for the same model only', () => {
    const p = book.find('gpt-4.1-2025-04-14', now)!;
    expect(p).toMatchObject({
      source: 'genai-prices',
      resolvedAs: 'gpt-4.1',
      price: { input: 2, training: 25, priority: { input: 3.5 } },
    });
    expect(p.version).toMatch(/^gpt-4\.1@genai-prices-[\d.]+\+tollgate-2026-11-30#[0-9a-f]{12}$/);
    // gpt-4o-2024-05-13 has its own source entry ($5 / $15) and its own priority prices.
    expect(book.find('gpt-4o-2024-05-13', now)).toMatchObject({ price: { input: 5, priority: { input: 8.75 } } });
  });

  it('resolves snapshots, aliases and fine-tuned ids the way OpenAI names them', () => {
    expect(book.find('gpt-5.5-2026-04-23', now)?.resolvedAs).toBe('gpt-5.5');
    expect(book.find('gpt-5.5-2027-01-01', now)?.resolvedAs).toBe('gpt-5.5');
    expect(book.find('codex-mini-latest', now)?.resolvedAs).toBe('codex-mini');
    expect(book.find('gpt-5.2-chat-latest', now)?.resolvedAs).toBe('gpt-5.2');
    expect(book.find('ft:gpt-4o-2024-08-06:acme::x1', now)).toMatchObject({
      resolvedAs: 'ft:gpt-4o',
      price: { input: 3.75, output: 15 },
    });
  });

  it('fails closed on an unknown model, unless the company allows it at a fallback price', () => {
    expect(book.find('house-llm', now)).toBeUndefined();
    expect(book.find('house-llm', now, 'globex')).toBeUndefined();
    expect(book.find('house-llm', now, 'acme')).toMatchObject({ source: 'fallback', price: { input: 9 } });
    // A fine-tuned model with no fine-tuned rates anywhere: this company's pattern covers it.
    expect(book.find('ft:gpt-5.4-nano-2026-03-17:acme::z9', now, 'acme')?.source).toBe('fallback');
    expect(book.find('ft:gpt-5.4-nano-2026-03-17:other::z9', now, 'acme')).toBeUndefined();
    // Fine-tuned rates the own table has win over a company's fallback.
    expect(book.find('ft:gpt-4.1-nano-2025-04-14:acme::z9', now, 'acme')?.source).toBe('tollgate');
  });

  it('gives equal prices equal versions, and any change a new one', () => {
    const a = new PriceBook({}).find('gpt-5.4', now)!.version;
    expect(new PriceBook({}).find('gpt-5.4-2026-03-05', now)!.version).toBe(a);
    const changed = parseConfig({
      companies: {},
      prices: { 'gpt-5.4': { input: 2.5, output: 15.01, source: 's', date: '2026-11-15' } },
    });
    expect(new PriceBook(changed.prices).find('gpt-5.4', now)!.version.split('#')[1]).not.toBe(a.split('#')[1]);
  });
});
