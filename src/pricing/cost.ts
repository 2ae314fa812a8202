import type { Usage } from '../metering/usage.js';
import { decimalOf, ExactSum, PER_MILLION, picoPerTokenCeil } from './exact.js';
import type { Price } from './types.js';

/** The token price fields a long-context tier or the priority tier may replace. */
type TokenPrices = Pick<
  Price,
  'input' | 'cachedInput' | 'cacheWrite' | 'output' | 'audioInput' | 'audioOutput' | 'imageInput' | 'imageOutput'
>;

/**
 * The price a request of `inputTokens` input tokens is billed at: the standard price, or — when
 * the model has long-context tiers and the request reaches one (`fromInputTokens` ≤ input tokens)
 * — the highest such tier's prices for the whole request, as OpenAI bills gpt-5.4 and gpt-5.5
 * above 272K input tokens (https://platform.openai.com/docs/pricing; the price source's rule).
 */
export function longContextPrice(price: Price, inputTokens: number): Price {
  const tiers = price.longContext;
  if (!tiers) return price;
  let tier: (typeof tiers)[number] | undefined;
  for (const t of tiers) if (inputTokens >= t.fromInputTokens) tier = t;
  if (!tier) return price;
  const { fromInputTokens: _from, ...prices } = tier;
  return { ...price, ...(prices as Partial<TokenPrices>) };
}

/**
 * The price a `service_tier` is billed at (OpenAI pricing page, "Processing tiers"):
 * - `flex`: Batch rates, i.e. the standard price less `batchDiscount` (OpenAI's flex processing
 *   guide: "priced similarly to Batch API"; o3 $10→$5 and o4-mini $1.10→$0.55 per 1M input);
 * - `priority`: the entry's `priority` token prices (openai.com/api-priority-processing); a model
 *   OpenAI publishes no priority price for is billed at standard prices (`unpriced`: the row says
 *   `PRIORITY_AT_STANDARD`, its version `tierVersion`'s `/priority-at-standard`);
 * - anything else (`default`, `auto`, `scale`, absent): the standard price.
 */
export function tierPrice<P extends Price>(
  price: P,
  tier: string | undefined,
): { price: P; discount: boolean; unpriced: boolean } {
  if (tier === 'flex') return { price, discount: true, unpriced: false };
  if (tier !== 'priority') return { price, discount: false, unpriced: false };
  if (!price.priority) return { price, discount: false, unpriced: true };
  const { input, cachedInput, output } = price.priority;
  return {
    price: { ...price, input, cachedInput: cachedInput ?? input, output, longContext: undefined },
    discount: false,
    unpriced: false,
  };
}

/**
 * The error code of a row the upstream processed at `service_tier: "priority"` but that was billed
 * at standard prices, because no priority price is known for its model: it is under-billed by
 * OpenAI's priority premium until one is added (`tollgate prices check` lists such models).
 */
export const PRIORITY_AT_STANDARD = 'priority_billed_at_standard';

/**
 * The price version a row billed at `tier` records: `version` at standard prices, with `/flex` or
 * `/priority` appended when that tier's price was billed, and `/priority-at-standard` when the
 * upstream processed it at priority but it was billed at standard prices (`tierPrice`'s `unpriced`).
 */
export function tierVersion(version: string, tier: string | undefined, unpriced: boolean): string {
  if (tier === 'flex') return `${version}/flex`;
  if (tier === 'priority') return `${version}/${unpriced ? 'priority-at-standard' : 'priority'}`;
  return version;
}

/** USD per 1M → integer pico-USD per token (1e-12 USD), rounded up; exact for prices with ≤ 6 decimals. */
export const picoPerToken = (usdPerMillion: number) => picoPerTokenCeil(usdPerMillion);

/**
 * The model's highest per-token price in pico-USD (standard, priority, and the long-context tier a
 * request of `inputTokens` input tokens reaches — every tier when unknown): what a hold on a USD
 * grant reserves per token.
 */
export function maxPicoPerToken(price: Price, inputTokens?: number): number {
  // Field by field, without building lists: this runs on every held request.
  let max = highestTokenPrice(price, 0);
  for (const t of price.longContext ?? [])
    if (inputTokens === undefined || t.fromInputTokens <= inputTokens) max = highestTokenPrice(t, max);
  if (price.priority) max = highestTokenPrice(price.priority, max);
  return picoPerToken(max);
}

/** The larger of `max` and every per-token price `p` names (USD per 1M tokens). */
function highestTokenPrice(p: Partial<Price>, max: number): number {
  max = larger(max, p.input);
  max = larger(max, p.cachedInput);
  max = larger(max, p.cacheWrite);
  max = larger(max, p.output);
  max = larger(max, p.audioInput);
  max = larger(max, p.audioOutput);
  max = larger(max, p.imageInput);
  max = larger(max, p.imageOutput);
  max = larger(max, p.cachedAudioInput);
  return larger(max, p.cachedImageInput);
}

const larger = (max: number, v: number | undefined) => (v !== undefined && v > max ? v : max);

/**
 * USD per second of video of `size` (`"1792x1024"`): `perSecond` itself when it is one number, else
 * its entry for the size, else its `default` entry, else 0 (no price).
 */
export function videoSecondPrice(price: Price, size: string | undefined): number {
  const p = price.perSecond;
  if (p === undefined) return 0;
  if (typeof p === 'number') return p;
  // Own properties only: the size comes from the caller's request.
  if (size !== undefined && Object.hasOwn(p, size)) return p[size]!;
  return p.default ?? 0;
}

const MAX_NANO = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Cost of a usage in integer nano-USD (1 USD = 1e9): every term summed exactly as a fraction of
 * the decimal prices (exact.ts) and rounded once, half up. The price is the standard one, or the
 * long-context tier the usage's input tokens reach (`longContextPrice`), then the `tier`'s
 * (`tierPrice`):
 * - input tokens: cached at `cachedInput` (their audio and image parts at `cachedAudioInput` /
 *   `cachedImageInput`, falling back to `cachedInput`), cache writes at `cacheWrite`, uncached
 *   audio at `audioInput`, image at `imageInput`, the rest at `input` (each absent price falls back
 *   to `input`);
 * - output tokens: audio at `audioOutput`, image at `imageOutput`, the rest (reasoning included) at
 *   `output`;
 * - `seconds` of audio at `perMinute` (else `perHour`), `characters` at `perMillionCharacters`,
 *   `images` at `perImage[imageKey]` (0 when that size/quality has no price), `trainedTokens` at
 *   `training` per 1M, `videoSeconds` at `perSecond` for the video's size (`videoSecondPrice`);
 * - `batch` usage, and `tier` `flex`, with `batchDiscount` taken off exactly;
 * - `feesNano`: built-in tool fees (see tool-fees.ts), added after any discount.
 * A cost beyond Number.MAX_SAFE_INTEGER nano-USD (about 9 million USD for one request) is capped there.
 */
export function costNanoUsd(usage: Usage, standard: Price, tier?: string, feesNano = 0): number {
  const { price, discount } = tierPrice(longContextPrice(standard, usage.inputTokens), tier);
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const cachedAudio = Math.min(usage.cachedAudioInputTokens ?? 0, cached);
  const cachedImage = Math.min(usage.cachedImageInputTokens ?? 0, cached - cachedAudio);
  const cachedText = cached - cachedAudio - cachedImage;
  const cacheWrite = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  const audioIn = usage.audioInputTokens ?? 0;
  const imageIn = usage.imageInputTokens ?? 0;
  const audioOut = usage.audioOutputTokens ?? 0;
  const imageOut = usage.imageOutputTokens ?? 0;
  const textIn = Math.max(0, usage.inputTokens - cached - cacheWrite - audioIn - imageIn);
  const textOut = Math.max(0, usage.outputTokens - audioOut - imageOut);
  const cachedPrice = price.cachedInput ?? price.input;
  const sum = new ExactSum()
    .add(textIn, price.input, PER_MILLION)
    .add(cachedText, cachedPrice, PER_MILLION)
    .add(cachedAudio, price.cachedAudioInput ?? cachedPrice, PER_MILLION)
    .add(cachedImage, price.cachedImageInput ?? cachedPrice, PER_MILLION)
    .add(cacheWrite, price.cacheWrite ?? price.input, PER_MILLION)
    .add(audioIn, price.audioInput ?? price.input, PER_MILLION)
    .add(imageIn, price.imageInput ?? price.input, PER_MILLION)
    .add(textOut, price.output, PER_MILLION)
    .add(audioOut, price.audioOutput ?? price.output, PER_MILLION)
    .add(imageOut, price.imageOutput ?? price.output, PER_MILLION);
  if (usage.seconds) {
    if (price.perMinute !== undefined) sum.add(usage.seconds, price.perMinute, 60n);
    else sum.add(usage.seconds, price.perHour, 3600n);
  }
  sum.add(usage.characters ?? 0, price.perMillionCharacters, PER_MILLION);
  if (usage.images && usage.imageKey && price.perImage && Object.hasOwn(price.perImage, usage.imageKey))
    sum.add(usage.images, price.perImage[usage.imageKey], 1n);
  sum.add(usage.trainedTokens ?? 0, price.training, PER_MILLION);
  if (usage.videoSeconds) sum.add(usage.videoSeconds, videoSecondPrice(price, usage.videoSize), 1n);
  if (usage.batch || discount) {
    const d = decimalOf(price.batchDiscount);
    const whole = 10n ** BigInt(d.scale);
    sum.scaleFraction(whole - d.units, whole);
  }
  const nano = sum.nano() + BigInt(Math.max(0, Math.round(feesNano)));
  // A usage no real request reaches (an upstream reporting absurd counts): capped, never a crash mid-settle.
  return nano > MAX_NANO ? Number.MAX_SAFE_INTEGER : Number(nano);
}

/** Nano-USD → micro-USD, rounded half up: what USD grants, quotas and balances are debited for a row. */
export const nanoToMicro = (nano: number) => Math.floor((nano + 500) / 1000);

/**
 * Cost of a usage in integer micro-USD: `costNanoUsd` rounded half up (the unit of USD grants and
 * quota counters; a row's exact cost is its nano-USD).
 */
export function costMicroUsd(usage: Usage, price: Price, tier?: string, feesNano = 0): number {
  return nanoToMicro(costNanoUsd(usage, price, tier, feesNano));
}
