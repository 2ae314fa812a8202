import { remaining, type GrantState, type Part } from './allocate.js';
import type { CounterState, QuotaCheck, Standing } from './port.js';

/**
 * A hold on a bound of an uncounted prompt (`HoldRequest.exact`) is placed only while the grants
 * and quotas could take this many such holds more: near the end of a balance every admission
 * counts its prompt, so bound holds (larger than counted ones) in flight seldom refuse a request
 * that counted holds would have admitted. Every adapter's admission (Postgres: `tollgate_admit`'s
 * `p_ample`) applies it.
 */
export const AMPLE = 64;

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

/**
 * The caller's standing right after a hold (for the response headers): what is left on the active
 * limited grants covering the model, per unit (tokens, micro-USD), net of the hold's `parts`;
 * whether an unlimited grant covers it; and what each quota window has left once `holdTokens` /
 * `holdMicroUsd` are held (`rows` are the windows' counters before the hold, in `quotas` order).
 */
export function standingAfterHold(
  eligible: readonly GrantState[],
  parts: readonly Part[],
  quotas: readonly QuotaCheck[],
  rows: readonly Omit<CounterState, 'id'>[],
  holdTokens: number,
  holdMicroUsd: number,
): Standing {
  const heldOn = new Map(parts.map((p) => [p.grantId, p.amount]));
  const left = (g: GrantState) => Math.max(0, remaining(g) - (heldOn.get(g.id) ?? 0));
  const finite = eligible.filter((g) => !g.unlimited);
  return {
    tokens: finite.filter((g) => g.unit === 'tokens').reduce((sum, g) => sum + left(g), 0),
    microUsd: finite.filter((g) => g.unit === 'micro_usd').reduce((sum, g) => sum + left(g), 0),
    unlimited: eligible.some((g) => g.unlimited),
    quotas: quotas.map((check, i) => {
      const row = rows[i]!;
      return {
        check,
        remainingTokens:
          check.limitTokens === undefined
            ? undefined
            : Math.max(0, check.limitTokens - row.spentTokens - row.heldTokens - holdTokens),
        remainingMicroUsd:
          check.limitMicroUsd === undefined
            ? undefined
            : Math.max(0, check.limitMicroUsd - row.spentMicroUsd - row.heldMicroUsd - holdMicroUsd),
      };
    }),
  };
}
