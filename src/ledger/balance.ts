import { DEFAULT_PRIORITY, isActive, remaining, type GrantState } from './allocate.js';
import type { Balance, GrantBalance } from './port.js';

/**
 * A company's balance at `at` (ISO UTC) from its grants still in the config, in burn order, as every
 * adapter computes it: each grant's standing (remaining null when unlimited), and the totals per
 * unit (tokens, micro-USD) over the active limited grants, with the models an active unlimited
 * grant covers. Pure: the adapters only read the grants.
 */
export function balanceFrom(
  companyId: string,
  grants: readonly { state: GrantState; purchaseId: string | null }[],
  at: string,
): Balance {
  const list: GrantBalance[] = grants.map(({ state: g, purchaseId }) => {
    const left = remaining(g);
    return {
      id: g.id,
      unit: g.unit,
      priority: g.priority ?? DEFAULT_PRIORITY,
      unlimited: g.unlimited,
      models: g.models,
      amount: g.amount,
      spent: g.spent,
      held: g.held,
      remaining: left === Infinity ? null : left,
      active: isActive(g, at),
      startsAt: g.startsAt,
      expiresAt: g.expiresAt,
      purchaseId,
    };
  });
  const active = list.filter((g) => g.active);
  const sum = (unit: GrantBalance['unit']) =>
    active.filter((g) => g.unit === unit && !g.unlimited).reduce((s, g) => s + (g.remaining ?? 0), 0);
  return {
    companyId,
    tokens: sum('tokens'),
    microUsd: sum('micro_usd'),
    unlimitedModels: active.filter((g) => g.unlimited).flatMap((g) => g.models ?? []),
    grants: list,
  };
}
