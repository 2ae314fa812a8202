import type { Standing } from '../ledger/port.js';
import { formatMicroUsd as usd } from '../utils/money.js';

/**
 * Response headers with the caller's standing after admission (documented in docs/budgets.md):
 * - `x-tollgate-balance-tokens`, `x-tollgate-balance-usd`: what is left on the company's active grants
 *   covering the model, per unit; `x-tollgate-balance-unlimited: true` when an unlimited grant covers it;
 * - `x-tollgate-quota-<user|key|end-user>-<daily|monthly|hard|session>`: `tokens=<left>/<limit>`,
 *   `usd=<left>/<limit>` and `reset=<ISO UTC>` for each quota in force.
 */
export function standingHeaders(s: Standing): Record<string, string> {
  const h: Record<string, string> = {
    'x-tollgate-balance-tokens': String(s.tokens),
    'x-tollgate-balance-usd': usd(s.microUsd),
  };
  if (s.unlimited) h['x-tollgate-balance-unlimited'] = 'true';
  for (const q of s.quotas) {
    const parts: string[] = [];
    if (q.check.limitTokens !== undefined) parts.push(`tokens=${q.remainingTokens}/${q.check.limitTokens}`);
    if (q.check.limitMicroUsd !== undefined)
      parts.push(`usd=${usd(q.remainingMicroUsd ?? 0)}/${usd(q.check.limitMicroUsd)}`);
    if (q.check.resetsAt) parts.push(`reset=${q.check.resetsAt.toISOString()}`);
    h[`x-tollgate-quota-${q.check.scope === 'end_user' ? 'end-user' : q.check.scope}-${q.check.window}`] =
      parts.join('; ');
  }
  return h;
}
