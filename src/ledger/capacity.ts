import type { GrantState } from './allocate.js';
import type { CounterState, QuotaCheck } from './port.js';

/**
 * How many tokens of a request a quota window can still take (tokens): its tightest limit, what is
 * left of a USD limit (micro-USD) priced at `maxPicoPerToken` (pico-USD per token). Infinity when
 * the window limits nothing that applies. Shared by every ledger adapter's admission.
 */
export function quotaCapacityTokens(check: QuotaCheck, row: Omit<CounterState, 'id'>, maxPicoPerToken: number): number {
  let cap = Infinity;
  if (check.limitTokens !== undefined) cap = Math.max(0, check.limitTokens - row.spentTokens - row.heldTokens);
  if (check.limitMicroUsd !== undefined && maxPicoPerToken > 0) {
    const leftMicroUsd = Math.max(0, check.limitMicroUsd - row.spentMicroUsd - row.heldMicroUsd);
    cap = Math.min(cap, Math.floor((leftMicroUsd * 1_000_000) / maxPicoPerToken));
  }
  return cap;
}

/** Unlimited grants first (stable): a model covered without limit never burns a limited grant. */
export function unlimitedFirst(list: readonly GrantState[]): GrantState[] {
  return [...list.filter((g) => g.unlimited), ...list.filter((g) => !g.unlimited)];
}
