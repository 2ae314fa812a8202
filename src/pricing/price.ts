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

const BUILT_IN: ReadonlyMap<string, Dated> = new Map(
  Object.entries(PRICE_TABLE).map(([model, p]) => [model, [priceSchema.parse(p)]]),
);

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
   * `gpt-4o`; a fine-tuned `ft:gpt-4o-mini-2024-07-18:acme::id` → `ft:gpt-4o-mini`, never the base
   * model's inference price, which OpenAI does not charge for fine-tuned models), the config's
   * entries before the built-in table's; among dated entries the latest
   * whose `effectiveFrom` is on or before `at`. Undefined when the model has no price.
   */
  find(model: string, at: Date): Priced | undefined {
    const day = at.toISOString().slice(0, 10);
    for (const name of lookupNames(model)) {
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

/** The names a model's price is looked up by, most specific first (see `PriceBook.find`). */
function lookupNames(model: string): string[] {
  if (model.startsWith('ft:')) return [...new Set([model, `ft:${modelFamily(model)}`])];
  return [...new Set([model, modelFamily(model)])];
}

/** One entry of a price list: the name it is priced under (model or family) and its dated prices, config first. */
export interface ListedPrice {
  model: string;
  origin: 'config' | 'built-in';
  price: PriceConfig;
}

/**
 * Every price a config puts in force: the config's `prices` entries (each dated entry), then the
 * built-in table's entries the config does not override, sorted by model name.
 */
export function listPrices(prices: Config['prices']): ListedPrice[] {
  const out: ListedPrice[] = [];
  for (const [model, p] of Object.entries(prices))
    for (const price of Array.isArray(p) ? p : [p]) out.push({ model, origin: 'config', price });
  for (const [model, list] of BUILT_IN)
    if (!(model in prices)) for (const price of list) out.push({ model, origin: 'built-in', price });
  return out.sort(
    (a, b) =>
      a.model.localeCompare(b.model) || (a.price.effectiveFrom ?? '').localeCompare(b.price.effectiveFrom ?? ''),
  );
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

/**
 * The price a `service_tier` is billed at (OpenAI pricing page, "Processing tiers"):
 * - `flex`: Batch rates, i.e. the standard price less `batchDiscount` (OpenAI's flex processing
 *   guide: "priced similarly to Batch API"; o3 $10→$5 and o4-mini $1.10→$0.55 per 1M input);
 * - `priority`: the entry's `priority` token prices (openai.com/api-priority-processing); a model
 *   without them is billed at standard prices and the row says `service_tier_not_priced`;
 * - anything else (`default`, `auto`, `scale`, absent): the standard price.
 */
export function tierPrice(
  price: PriceConfig,
  tier: string | undefined,
): { price: PriceConfig; discount: boolean; unpriced: boolean } {
  if (tier === 'flex') return { price, discount: true, unpriced: false };
  if (tier !== 'priority') return { price, discount: false, unpriced: false };
  if (!price.priority) return { price, discount: false, unpriced: true };
  const { input, cachedInput, output } = price.priority;
  return { price: { ...price, input, cachedInput: cachedInput ?? input, output }, discount: false, unpriced: false };
}

/** The model's highest per-token price in pico-USD (standard or priority): what a hold on a USD grant reserves per token. */
export function maxPicoPerToken(price: PriceConfig): number {
  const p = price.priority;
  return picoPerToken(
    Math.max(
      price.input,
      price.cachedInput ?? 0,
      price.cachedAudioInput ?? 0,
      price.cachedImageInput ?? 0,
      price.output,
      price.audioInput ?? 0,
      price.audioOutput ?? 0,
      price.imageInput ?? 0,
      price.imageOutput ?? 0,
      p?.input ?? 0,
      p?.output ?? 0,
    ),
  );
}

const big = (n: number) => BigInt(Math.max(0, Math.round(n)));

/**
 * Cost of a usage in integer nano-USD (1 USD = 1e9), summed exactly in pico-USD (BigInt) and
 * rounded once, half up:
 * - input tokens: cached at `cachedInput` (their audio and image parts at `cachedAudioInput` /
 *   `cachedImageInput`, falling back to `cachedInput`), audio at `audioInput`, image at `imageInput`,
 *   the rest at `input` (each absent price falls back to `input`);
 * - output tokens: audio at `audioOutput`, image at `imageOutput`, the rest (reasoning included) at
 *   `output` (fallback `output`);
 * - `seconds` of audio at `perMinute`, `characters` at `perMillionCharacters`, `images` at
 *   `perImage[imageKey]` (0 when that size/quality has no price);
 * - `trainedTokens` (a fine-tuning job) at `training` per 1M; `videoSeconds` at `perSecond` for
 *   the video's size (see `videoSecondPrice`);
 * - `batch` usage, and `tier` `flex`, with `batchDiscount` taken off; `tier` `priority` at the
 *   priority prices (see `tierPrice`);
 * - `feesNano`: built-in tool fees (see tool-fees.ts), added after any discount.
 * A cost beyond Number.MAX_SAFE_INTEGER nano-USD (about 9 million USD for one request) is capped there.
 */
export function costNanoUsd(usage: Usage, standard: PriceConfig, tier?: string, feesNano = 0): number {
  const { price, discount } = tierPrice(standard, tier);
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
  const at = (tokens: number, usdPerMillion: number) => big(tokens) * big(picoPerToken(usdPerMillion));
  let pico =
    at(textIn, price.input) +
    at(cachedText, price.cachedInput ?? price.input) +
    at(cachedAudio, price.cachedAudioInput ?? price.cachedInput ?? price.input) +
    at(cachedImage, price.cachedImageInput ?? price.cachedInput ?? price.input) +
    at(audioIn, price.audioInput ?? price.input) +
    at(imageIn, price.imageInput ?? price.input) +
    at(textOut, price.output) +
    at(audioOut, price.audioOutput ?? price.output) +
    at(imageOut, price.imageOutput ?? price.output);
  if (usage.seconds && price.perMinute) pico += big((usage.seconds * price.perMinute * 1e12) / 60);
  if (usage.characters && price.perMillionCharacters) pico += at(usage.characters, price.perMillionCharacters);
  if (usage.images && usage.imageKey && price.perImage?.[usage.imageKey])
    pico += big(usage.images * price.perImage[usage.imageKey]! * 1e12);
  if (usage.trainedTokens && price.training) pico += at(usage.trainedTokens, price.training);
  if (usage.videoSeconds) pico += big(usage.videoSeconds * videoSecondPrice(price, usage.videoSize) * 1e12);
  if (usage.batch || discount) pico = (pico * big((1 - price.batchDiscount) * 1e6) + 500_000n) / 1_000_000n;
  const nano = (pico + 500n) / 1000n + big(feesNano);
  // A usage no real request reaches (an upstream reporting absurd counts): capped, never a crash mid-settle.
  return nano > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(nano);
}

/**
 * USD per second of video of `size` (`"1792x1024"`): `perSecond` itself when it is one number, else
 * its entry for the size, else its `default` entry, else 0 (no price).
 */
export function videoSecondPrice(price: PriceConfig, size: string | undefined): number {
  const p = price.perSecond;
  if (p === undefined) return 0;
  if (typeof p === 'number') return p;
  // Own properties only: the size comes from the caller's request.
  if (size !== undefined && Object.hasOwn(p, size)) return p[size]!;
  return p.default ?? 0;
}

/** Nano-USD → micro-USD, rounded half up: what USD grants, quotas and balances are debited for a row. */
export const nanoToMicro = (nano: number) => Math.floor((nano + 500) / 1000);

/**
 * Cost of a usage in integer micro-USD: `costNanoUsd` rounded half up (the unit of USD grants and
 * quota counters; a row's exact cost is its nano-USD).
 */
export function costMicroUsd(usage: Usage, price: PriceConfig, tier?: string, feesNano = 0): number {
  return nanoToMicro(costNanoUsd(usage, price, tier, feesNano));
}
