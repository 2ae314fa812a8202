import { priceSchema, type Config, type PriceConfig } from '../config/schema.js';
import { modelFamily } from '../metering/model.js';
import type { Usage } from '../metering/usage.js';
import { PRICE_TABLE } from './table.js';

/** A resolved price: the entry, and its version (`<priced name>@<effective date>`) for the ledger row. */
export interface Priced {
  price: PriceConfig;
  version: string;
}

type Dated = PriceConfig[];

const BUILT_IN: ReadonlyMap<string, Dated> = new Map(Object.entries(PRICE_TABLE).map(([model, p]) => [model, [priceSchema.parse(p)]]));

/**
 * The prices in force for one config: the config's `prices` over tollgate's built-in table
 * (src/pricing/table.ts). Built once per config object (`priceBook(config)`).
 */
export class PriceBook {
  private readonly configured: ReadonlyMap<string, Dated>;

  constructor(prices: Config['prices']) {
    this.configured = new Map(Object.entries(prices).map(([model, p]) => [model, Array.isArray(p) ? p : [p]]));
  }

  /**
   * The price of `model` at `at` (UTC): by exact name, then by family (`gpt-4o-2024-08-06` →
   * `gpt-4o`), the config's entries before the built-in table's; among dated entries the latest
   * whose `effectiveFrom` is on or before `at`. Undefined when the model has no price.
   */
  find(model: string, at: Date): Priced | undefined {
    const day = at.toISOString().slice(0, 10);
    for (const name of new Set([model, modelFamily(model)])) {
      const list = this.configured.get(name) ?? BUILT_IN.get(name);
      if (!list) continue;
      let best: PriceConfig | undefined;
      for (const p of list) {
        const from = p.effectiveFrom ?? '0000-00-00';
        if (from <= day && (!best || from >= (best.effectiveFrom ?? '0000-00-00'))) best = p;
      }
      if (best) return { price: best, version: `${name}@${best.effectiveFrom ?? best.date}` };
    }
    return undefined;
  }
}

const books = new WeakMap<Config, PriceBook>();

/** The PriceBook of a config, built on first use and kept as long as the config object lives. */
export function priceBook(config: Config): PriceBook {
  let book = books.get(config);
  if (!book) books.set(config, (book = new PriceBook(config.prices)));
  return book;
}

/** USD per 1M → integer pico-USD per unit (1e-12 USD): exact for prices with ≤ 6 decimals. */
export const picoPerToken = (usdPerMillion: number) => Math.round(usdPerMillion * 1e6);

/** The model's highest per-token price in pico-USD: what a hold on a USD grant reserves per token. */
export function maxPicoPerToken(price: PriceConfig): number {
  return picoPerToken(Math.max(price.input, price.cachedInput ?? 0, price.cachedAudioInput ?? 0, price.cachedImageInput ?? 0, price.output, price.audioInput ?? 0, price.audioOutput ?? 0, price.imageInput ?? 0, price.imageOutput ?? 0));
}

/**
 * Cost of a usage in integer micro-USD, summed exactly in pico-USD and rounded once, half up:
 * - input tokens: cached at `cachedInput` (their audio and image parts at `cachedAudioInput` /
 *   `cachedImageInput`, falling back to `cachedInput`), audio at `audioInput`, image at `imageInput`,
 *   the rest at `input` (each absent price falls back to `input`);
 * - output tokens: audio at `audioOutput`, image at `imageOutput`, the rest (reasoning included) at
 *   `output` (fallback `output`);
 * - `seconds` of audio at `perMinute`, `characters` at `perMillionCharacters`, `images` at
 *   `perImage[imageKey]` (0 when that size/quality has no price);
 * - `batch` usage with `batchDiscount` taken off.
 */
export function costMicroUsd(usage: Usage, price: PriceConfig): number {
  const cached = usage.cachedInputTokens;
  const cachedAudio = Math.min(usage.cachedAudioInputTokens ?? 0, cached);
  const cachedImage = Math.min(usage.cachedImageInputTokens ?? 0, cached - cachedAudio);
  const cachedText = cached - cachedAudio - cachedImage;
  const audioIn = usage.audioInputTokens ?? 0;
  const imageIn = usage.imageInputTokens ?? 0;
  const audioOut = usage.audioOutputTokens ?? 0;
  const imageOut = usage.imageOutputTokens ?? 0;
  const textIn = Math.max(0, usage.inputTokens - cached - audioIn - imageIn);
  const textOut = Math.max(0, usage.outputTokens - audioOut - imageOut);
  let pico =
    textIn * picoPerToken(price.input) +
    cachedText * picoPerToken(price.cachedInput ?? price.input) +
    cachedAudio * picoPerToken(price.cachedAudioInput ?? price.cachedInput ?? price.input) +
    cachedImage * picoPerToken(price.cachedImageInput ?? price.cachedInput ?? price.input) +
    audioIn * picoPerToken(price.audioInput ?? price.input) +
    imageIn * picoPerToken(price.imageInput ?? price.input) +
    textOut * picoPerToken(price.output) +
    audioOut * picoPerToken(price.audioOutput ?? price.output) +
    imageOut * picoPerToken(price.imageOutput ?? price.output);
  if (usage.seconds && price.perMinute) pico += Math.round((usage.seconds * price.perMinute * 1e12) / 60);
  if (usage.characters && price.perMillionCharacters) pico += usage.characters * picoPerToken(price.perMillionCharacters);
  if (usage.images && usage.imageKey && price.perImage?.[usage.imageKey]) pico += Math.round(usage.images * price.perImage[usage.imageKey]! * 1e12);
  if (usage.batch) pico = Math.round(pico * (1 - price.batchDiscount));
  return Math.floor((pico + 500_000) / 1_000_000);
}
