import { createHash } from 'node:crypto';
import type { Config, PriceConfig } from '../config/schema.js';
import { lookupNames, matchesPattern } from './names.js';
import { SOURCE_VERSION, sourceModel, type SourceModel } from './source.js';
import { OWN_TABLE, type OwnEntry } from './table.js';
import type { Price, Priced, PriceSource } from './types.js';

export type { Price, Priced, PriceSource } from './types.js';
export {
  costMicroUsd,
  costNanoUsd,
  maxPicoPerToken,
  nanoToMicro,
  picoPerToken,
  PRIORITY_AT_STANDARD,
  tierPrice,
  tierVersion,
  videoSecondPrice,
} from './cost.js';

/** `genai-prices-0.1.8`: the source's tag in price versions. */
const SOURCE_TAG = `genai-prices-${SOURCE_VERSION}`;

const hashes = new WeakMap<object, string>();
/** 12 hex digits of the SHA-256 of a price's fields (keys sorted): equal prices, equal hash. */
function contentHash(price: object): string {
  let h = hashes.get(price);
  if (!h) {
    const canonical = JSON.stringify(price, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v,
    );
    h = createHash('sha256').update(canonical).digest('hex').slice(0, 12);
    hashes.set(price, h);
  }
  return h;
}

/** The entry of a dated list in force on `day` (`YYYY-MM-DD`): the latest whose `effectiveFrom` is on or before it. */
function inForce<P extends { effectiveFrom?: string }>(list: readonly P[], day: string): P | undefined {
  let best: P | undefined;
  for (const p of list) {
    const from = p.effectiveFrom ?? '0000-00-00';
    if (from <= day && (!best || from >= (best.effectiveFrom ?? '0000-00-00'))) best = p;
  }
  return best;
}

/** An own supplement merged over the source's price: its fields win, the sources are both named. */
function merge(base: Price, own: OwnEntry): Price {
  const { supplements: _s, source, date, ...fields } = own;
  return { ...base, ...fields, source: `${base.source}; ${source}`, date };
}

const complete = new WeakMap<OwnEntry, Price>();
/**
 * A standalone own entry as the complete price it stands for: with the Batch and flex discount
 * every entry defaults to (0.5, table.ts) unless it names its own.
 */
function standalone(own: OwnEntry): Price {
  let price = complete.get(own);
  if (!price) complete.set(own, (price = { ...(own as Price), batchDiscount: own.batchDiscount ?? 0.5 }));
  return price;
}

const priced = (price: Price, name: string, tag: string, source: PriceSource): Priced => ({
  price,
  version: `${name}@${tag}#${contentHash(price)}`,
  source,
  resolvedAs: name,
});

/**
 * The prices in force for one config, by one resolution order (docs/prices.md): the config's
 * `prices` → tollgate's own entries (table.ts) → the price source (`@pydantic/genai-prices`,
 * source.ts) → the company's `fallbackPrices`. Built once per config object (`priceBook(config)`).
 */
export class PriceBook {
  private readonly configured: ReadonlyMap<string, PriceConfig[]>;
  private readonly fallbacks: ReadonlyMap<string, Config['companies'][string]['fallbackPrices']>;
  private readonly sourceHits = new Map<string, { name: string; model: SourceModel } | null>();
  /** Answers by model, UTC day and company: a price changes at most once a day, and `find` runs on every request. */
  private readonly answers = new Map<string, Priced | null>();

  constructor(prices: Config['prices'], companies: Config['companies'] = {}) {
    this.configured = new Map(Object.entries(prices).map(([model, p]) => [model, Array.isArray(p) ? p : [p]]));
    this.fallbacks = new Map(Object.entries(companies).map(([id, c]) => [id, c.fallbackPrices ?? []]));
  }

  /**
   * The price of `model` at `at` (UTC), for `companyId` when given (its fallback prices), or
   * undefined when nothing prices it (the request then fails closed, `model_not_priced`). Each
   * source is asked by every name of `lookupNames` (the id, its alias's model, its snapshot's
   * family, a fine-tuned id's `ft:<base>`), most specific first:
   * 1. the config's `prices` (its dated entries: the latest `effectiveFrom` on or before `at`);
   * 2. tollgate's standalone entries, and the source's model, with tollgate's supplements for the
   *    same model merged over it; a source model with a price key tollgate cannot bill is skipped;
   * 3. the company's first `fallbackPrices` entry naming the model (name or `*` pattern).
   */
  find(model: string, at: Date, companyId?: string): Priced | undefined {
    const key = `${Math.floor(at.getTime() / 86_400_000)}\u0000${companyId ?? ''}\u0000${model}`;
    const known = this.answers.get(key);
    if (known !== undefined) return known ?? undefined;
    const answer = this.resolve(model, at.toISOString().slice(0, 10), companyId);
    if (this.answers.size >= 10_000) this.answers.clear();
    this.answers.set(key, answer ?? null);
    return answer;
  }

  /** `find` without its cache. */
  private resolve(model: string, day: string, companyId: string | undefined): Priced | undefined {
    const names = lookupNames(model);
    for (const name of names) {
      const list = this.configured.get(name);
      const p = list && inForce(list, day);
      if (p) return priced(p, name, p.effectiveFrom ?? p.date, 'config');
    }
    const hit = this.sourceHit(model, names);
    for (const name of names) {
      const own = Object.hasOwn(OWN_TABLE, name) ? OWN_TABLE[name]! : undefined;
      if (!own) continue;
      if (!own.supplements) return priced(standalone(own), name, `tollgate-${own.date}`, 'tollgate');
      // A supplement applies only to the source model it was written for.
      if (hit && this.sourceHit(name, [name])?.model === hit.model) {
        const base = inForce(hit.model.prices, day);
        if (base) return priced(merge(base, own), hit.name, `${SOURCE_TAG}+tollgate-${own.date}`, 'genai-prices');
      }
    }
    const base = hit && inForce(hit.model.prices, day);
    if (hit && base) return priced(base, hit.name, SOURCE_TAG, 'genai-prices');
    const rule = companyId
      ? this.fallbacks.get(companyId)?.find((f) => f.models.some((m) => matchesPattern(m, model)))
      : undefined;
    if (rule) return priced(rule.price, model, `fallback-${rule.price.date}`, 'fallback');
    return undefined;
  }

  /** The source's billable model for the first of `names` it matches (cached per id). */
  private sourceHit(model: string, names: string[]): { name: string; model: SourceModel } | undefined {
    const cached = this.sourceHits.get(model);
    if (cached !== undefined) return cached ?? undefined;
    let hit: { name: string; model: SourceModel } | null = null;
    for (const name of names) {
      const m = sourceModel(name);
      if (m && m.unbilled.length === 0 && m.prices.length > 0) {
        hit = { name: m.id, model: m };
        break;
      }
    }
    if (this.sourceHits.size < 10_000) this.sourceHits.set(model, hit);
    return hit ?? undefined;
  }
}

const books = new WeakMap<Config, PriceBook>();

/** The PriceBook of a config, built on first use and kept as long as the config object lives. */
export function priceBook(config: Config): PriceBook {
  let book = books.get(config);
  if (!book) books.set(config, (book = new PriceBook(config.prices, config.companies)));
  return book;
}
