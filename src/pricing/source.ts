import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  findProvider,
  type MatchLogic,
  type ModelInfo,
  type ModelPrice,
  type TieredPrices,
} from '@pydantic/genai-prices';
import type { Price } from './types.js';

/**
 * OpenAI's prices as `@pydantic/genai-prices` ships them (its bundled data, pinned in
 * package.json: a dependency bump is a price update). Only the *data* is read — each model's id,
 * match rule, context window and price keys — never the package's floating-point totals: the
 * numbers are taken as the decimals they are written with (see exact.ts).
 *
 * Price keys, USD per 1M tokens unless named otherwise (the package's `prices/units.yml`):
 * `input_mtok` → `input`, `cache_read_mtok` → `cachedInput`, `cache_write_mtok` → `cacheWrite`,
 * `output_mtok` → `output`, `input_audio_mtok` / `cache_audio_read_mtok` / `output_audio_mtok` →
 * `audioInput` / `cachedAudioInput` / `audioOutput`, the same for images, `web_searches_kcount` /
 * `storage_searches_kcount` → `webSearch` / `fileSearch` (USD per 1,000 calls),
 * `input_audio_hours` (else `audio_hours`) → `perHour`. A tiered key (`{base, tiers: [{start,
 * price}]}`) applies its tier's price to the whole request when the request's input tokens are
 * greater than `start` (the package's rule); that becomes a `longContext` tier from `start + 1`.
 * A key tollgate does not bill is listed in the entry's `unbilled` and makes the model unpriced.
 */

/** The pinned package's name and version, as installed (`@pydantic/genai-prices@0.1.8`). */
export const SOURCE_NAME = '@pydantic/genai-prices';

function installedVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve(SOURCE_NAME);
  const pkg = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The installed version of the price source. */
export const SOURCE_VERSION = installedVersion();

/** One OpenAI model of the source: its id, how request ids match it, its limits and its dated prices. */
export interface SourceModel {
  id: string;
  match: MatchLogic;
  contextWindow?: number;
  /** Its prices, oldest first; each later one has an `effectiveFrom`. */
  prices: Price[];
  /** Price keys of the source tollgate cannot bill (the model is then left unpriced). */
  unbilled: string[];
  deprecated: boolean;
}

const TOKEN_KEYS: Record<string, keyof Price> = {
  input_mtok: 'input',
  cache_read_mtok: 'cachedInput',
  cache_write_mtok: 'cacheWrite',
  output_mtok: 'output',
  input_audio_mtok: 'audioInput',
  cache_audio_read_mtok: 'cachedAudioInput',
  output_audio_mtok: 'audioOutput',
  input_image_mtok: 'imageInput',
  cache_image_read_mtok: 'cachedImageInput',
  output_image_mtok: 'imageOutput',
};
const CALL_KEYS: Record<string, 'webSearch' | 'fileSearch'> = {
  web_searches_kcount: 'webSearch',
  storage_searches_kcount: 'fileSearch',
};

const isTiered = (v: unknown): v is TieredPrices => typeof v === 'object' && v !== null && 'tiers' in v;

/** The source's URL for OpenAI prices (its provider's first pricing page). */
let pricingUrl = 'https://platform.openai.com/docs/pricing';

/** Converts one price set of the source into tollgate's `Price` (see the module comment for the keys). */
function convert(prices: ModelPrice, effectiveFrom: string | undefined): { price: Price; unbilled: string[] } {
  const price: Price = { input: 0, output: 0, batchDiscount: 0.5, source: pricingUrl };
  if (effectiveFrom) price.effectiveFrom = effectiveFrom;
  const unbilled: string[] = [];
  const tiers = new Map<number, Record<string, number>>();
  const record = price as unknown as Record<string, number>;
  for (const [key, value] of Object.entries(prices)) {
    if (value === undefined) continue;
    const field = TOKEN_KEYS[key];
    if (field) {
      if (isTiered(value)) {
        record[field] = value.base;
        for (const t of value.tiers) {
          const tier = tiers.get(t.start + 1) ?? {};
          tier[field] = t.price;
          tiers.set(t.start + 1, tier);
        }
      } else record[field] = value;
      continue;
    }
    if (isTiered(value)) {
      unbilled.push(key);
      continue;
    }
    if (CALL_KEYS[key]) price[CALL_KEYS[key]] = value;
    else if (key === 'input_audio_hours' || (key === 'audio_hours' && prices.input_audio_hours === undefined))
      price.perHour = value;
    else if (key !== 'audio_hours') unbilled.push(key);
  }
  if (tiers.size > 0)
    price.longContext = [...tiers.entries()]
      .sort(([a], [b]) => a - b)
      .map(([fromInputTokens, p]) => ({ fromInputTokens, ...p }));
  return { price, unbilled };
}

/** A `start_date` constraint as a UTC date (`2025-06-10`). */
const dayOf = (s: string) => new Date(s).toISOString().slice(0, 10);

function toModel(m: ModelInfo): SourceModel {
  const out: SourceModel = {
    id: m.id,
    match: m.match,
    contextWindow: m.context_window,
    prices: [],
    unbilled: [],
    deprecated: m.deprecated === true,
  };
  const list = Array.isArray(m.prices) ? m.prices : [{ prices: m.prices }];
  for (const entry of list) {
    const c = 'constraint' in entry ? entry.constraint : undefined;
    // Time-of-day prices (off-peak discounts) are not OpenAI's; a model with them is left unpriced.
    if (c && c.type !== 'start_date') {
      out.unbilled.push(`constraint:${c.type}`);
      continue;
    }
    const { price, unbilled } = convert(entry.prices, c ? dayOf(c.start_date) : undefined);
    if (m.context_window) price.contextWindow = m.context_window;
    out.prices.push(price);
    out.unbilled.push(...unbilled);
  }
  out.unbilled = [...new Set(out.unbilled)];
  return out;
}

/** Every OpenAI model of the installed source, in the source's order. */
export const SOURCE_MODELS: readonly SourceModel[] = (() => {
  const provider = findProvider({ providerId: 'openai' });
  if (!provider) throw new Error(`${SOURCE_NAME}@${SOURCE_VERSION} has no 'openai' provider`);
  pricingUrl = provider.pricing_urls?.[0] ?? pricingUrl;
  return provider.models.map(toModel);
})();

/**
 * Whether a model id matches a source rule: `equals`, `starts_with`, `ends_with`, `contains`
 * compare case-insensitively, `regex` as written, `or` / `and` combine (the source's own rule).
 */
export function matches(logic: MatchLogic, id: string): boolean {
  if ('or' in logic) return logic.or.some((l) => matches(l, id));
  if ('and' in logic) return logic.and.every((l) => matches(l, id));
  const lower = id.toLowerCase();
  if ('equals' in logic) return lower === logic.equals.toLowerCase();
  if ('starts_with' in logic) return lower.startsWith(logic.starts_with.toLowerCase());
  if ('ends_with' in logic) return lower.endsWith(logic.ends_with.toLowerCase());
  if ('contains' in logic) return lower.includes(logic.contains.toLowerCase());
  if ('regex' in logic) return new RegExp(logic.regex).test(id);
  return false;
}

/** The source's model for exactly `id` (by its match rules, first match in the source's order), if any. */
export function sourceModel(id: string): SourceModel | undefined {
  return SOURCE_MODELS.find((m) => matches(m.match, id));
}
