import { modelFamily } from '../metering/model.js';

/**
 * The arithmetic of holds and burns, free of I/O so that it can be checked exhaustively.
 * Amounts are integers in each grant's unit: tokens, or micro-USD (1 USD = 1,000,000).
 */

/** A grant's burn priority when its terms set none: lower burns first (OpenMeter's convention). */
export const DEFAULT_PRIORITY = 1;

/** A grant's standing as the ledger stores it. */
export interface GrantState {
  id: string;
  unit: 'tokens' | 'micro_usd';
  /** Burn order: lower burns first; absent: `DEFAULT_PRIORITY`. */
  priority?: number;
  amount: number;
  unlimited: boolean;
  spent: number;
  held: number;
  /** Model names or families covered; null covers every model. */
  models: string[] | null;
  startsAt: string | null;
  expiresAt: string | null;
  removedAt: string | null;
}

/** One grant's part of a hold or a burn, in the grant's unit. */
export interface Part {
  grantId: string;
  amount: number;
}

/** One grant's part of a burn, with the share of it the grant did not have left. */
export interface DebitPart extends Part {
  unit: 'tokens' | 'micro_usd';
  overdraft: number;
}

/** What `compareBurnOrder` reads of a grant: ISO 8601 UTC instants; `createdAt` is when the ledger first mirrored it. */
export interface BurnOrderKey {
  id: string;
  priority?: number;
  expiresAt: string | null;
  startsAt: string | null;
  createdAt?: string | null;
}

/**
 * The one burn order of limited grants, every adapter's: lower `priority` first; then the soonest to
 * expire (no expiry last); then the oldest (`startsAt`, else when first mirrored); then `id`
 * (bytewise). An unlimited grant covering the model burns before all of them (`unlimitedFirst` in
 * capacity.ts): it never runs out, and limited grants are then kept for what they alone cover.
 * Instants compare as ISO 8601 UTC text, which orders them in time.
 */
export function compareBurnOrder(a: BurnOrderKey, b: BurnOrderKey): number {
  const pa = a.priority ?? DEFAULT_PRIORITY;
  const pb = b.priority ?? DEFAULT_PRIORITY;
  if (pa !== pb) return pa - pb;
  if (a.expiresAt !== b.expiresAt) {
    if (a.expiresAt === null) return 1;
    if (b.expiresAt === null) return -1;
    return a.expiresAt < b.expiresAt ? -1 : 1;
  }
  const oa = a.startsAt ?? a.createdAt ?? '';
  const ob = b.startsAt ?? b.createdAt ?? '';
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** True when the grant counts at `at` (ISO UTC): not removed, started, not yet expired. */
export function isActive(g: GrantState, at: string): boolean {
  return !g.removedAt && (!g.startsAt || g.startsAt <= at) && (!g.expiresAt || g.expiresAt > at);
}

/** True when the grant covers `model`, by exact name or by family (`gpt-4o` covers `gpt-4o-2024-08-06`). */
export function covers(g: GrantState, model: string | null): boolean {
  if (!g.models) return true;
  if (model === null) return false;
  return g.models.includes(model) || g.models.includes(modelFamily(model));
}

/** What is left on a grant in its unit, never below 0; Infinity for an unlimited grant. */
export function remaining(g: GrantState): number {
  return g.unlimited ? Infinity : Math.max(0, g.amount - g.spent - g.held);
}

/**
 * How many tokens of a request a grant can still cover. For a micro-USD grant every token is priced
 * at `maxPicoPerToken`, the model's highest per-token price in pico-USD (1e-12 USD), so the hold is a
 * worst case whatever the mix of input and output turns out to be.
 */
export function capacityTokens(g: GrantState, maxPicoPerToken: number): number {
  const left = remaining(g);
  if (g.unit === 'tokens' || left === Infinity) return left;
  return maxPicoPerToken === 0 ? Infinity : Math.floor((left * 1_000_000) / maxPicoPerToken);
}

/** Micro-USD of `tokens` tokens at `picoPerToken`, rounded up. */
export function microUsdOf(tokens: number, picoPerToken: number): number {
  return Math.ceil((tokens * picoPerToken) / 1_000_000);
}

/**
 * Spreads a hold of `tokens` over `grants` (active, covering the model, in burn order). Returns each
 * grant's part in its own unit. The caller has checked that the grants' capacity covers `tokens`.
 */
export function planHold(grants: GrantState[], tokens: number, maxPicoPerToken: number): Part[] {
  const parts: Part[] = [];
  let need = tokens;
  for (const g of grants) {
    if (need <= 0) break;
    const take = Math.min(capacityTokens(g, maxPicoPerToken), need);
    if (take <= 0) continue;
    const amount = g.unit === 'tokens' ? take : Math.min(remaining(g), microUsdOf(take, maxPicoPerToken));
    parts.push({ grantId: g.id, amount });
    need -= take;
  }
  return parts;
}

/**
 * Burns a settled request's usage over `order` (the grants it held, then the company's other active
 * grants covering the model, each group in burn order). A tokens grant takes from `tokens`, a
 * micro-USD grant from `microUsd`; taking part of one reduces the other in proportion, so a
 * request split across units is charged once. An unlimited grant takes all that is left. Whatever
 * no grant can cover overdraws the first grant of `order`, recorded as `overdraft`.
 * `order` must hold each grant's standing with the request's own hold already released.
 */
export function planBurn(order: GrantState[], tokens: number, microUsd: number): DebitPart[] {
  const parts = new Map<string, DebitPart>();
  let needT = tokens;
  let needC = microUsd;
  for (const g of order) {
    if (needT <= 0 && needC <= 0) break;
    if (g.unlimited) {
      parts.set(g.id, { grantId: g.id, unit: g.unit, amount: g.unit === 'tokens' ? needT : needC, overdraft: 0 });
      needT = needC = 0;
      break;
    }
    const left = remaining(g);
    if (g.unit === 'tokens') {
      if (needT <= 0 || left <= 0) continue;
      const take = Math.min(left, needT);
      needC -= Math.round((needC * take) / needT);
      needT -= take;
      parts.set(g.id, { grantId: g.id, unit: g.unit, amount: take, overdraft: 0 });
    } else {
      if (needC <= 0 || left <= 0) continue;
      const take = Math.min(left, needC);
      needT -= Math.round((needT * take) / needC);
      needC -= take;
      parts.set(g.id, { grantId: g.id, unit: g.unit, amount: take, overdraft: 0 });
    }
  }
  const first = order[0];
  if (first && (needT > 0 || needC > 0)) {
    const over = first.unit === 'tokens' ? needT : needC;
    if (over > 0) {
      const p = parts.get(first.id) ?? { grantId: first.id, unit: first.unit, amount: 0, overdraft: 0 };
      p.amount += over;
      p.overdraft += over;
      parts.set(first.id, p);
    }
  }
  return [...parts.values()];
}
