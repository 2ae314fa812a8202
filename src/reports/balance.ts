import type { Balance, GrantBalance, Ledger, PurchaseRef } from '../ledger/port.js';

export type { PurchaseRef } from '../ledger/port.js';

/** A grant's standing (amounts in its unit: tokens or micro-USD) with its purchase record. */
export interface GrantReport extends GrantBalance {
  purchase: PurchaseRef | null;
}

/**
 * What is left for one model scope (the per-model credits): the company's active grants
 * grouped by their `models` list. `models: null` is the scope "all models" (grants without
 * `models`); a model named in a scope can also draw on "all models".
 */
export interface ScopeBalance {
  /** The scope's models as the grants name them (sorted), or null for all models. */
  models: string[] | null;
  /** Tokens left on the scope's active, limited tokens grants. */
  tokens: number;
  /** Micro-USD left on the scope's active USD grants. */
  microUsd: number;
  /** True when an active unlimited grant covers the scope. */
  unlimited: boolean;
  /** The active grants in the scope. */
  grantIds: string[];
  /** The earliest expiry (ISO UTC) among those grants; null when none expires. */
  expiresAt: string | null;
}

/**
 * A company's balance at an instant: totals from `LedgerWriter.balance()` (tokens and micro-USD left on
 * active limited grants, net of holds of requests in flight), each grant still in the config, the
 * per-scope view, and the models with an active unlimited grant.
 */
export interface CompanyBalance extends Omit<Balance, 'grants'> {
  grants: GrantReport[];
  byModel: ScopeBalance[];
}

/** Groups active grants by their models scope; "all models" (null) first, then scopes by name. */
export function scopeBalances(list: readonly GrantBalance[]): ScopeBalance[] {
  const scopes = new Map<string, ScopeBalance>();
  for (const g of list) {
    if (!g.active) continue;
    const models = g.models ? [...g.models].sort() : null;
    const key = models ? JSON.stringify(models) : '';
    const s = scopes.get(key) ?? { models, tokens: 0, microUsd: 0, unlimited: false, grantIds: [], expiresAt: null };
    if (g.unlimited) s.unlimited = true;
    else if (g.unit === 'tokens') s.tokens += g.remaining ?? 0;
    else s.microUsd += g.remaining ?? 0;
    s.grantIds.push(g.id);
    if (g.expiresAt !== null && (s.expiresAt === null || g.expiresAt < s.expiresAt)) s.expiresAt = g.expiresAt;
    scopes.set(key, s);
  }
  return [...scopes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

/**
 * Balances at `now` of one company, or of every company with a grant still in the config (sorted
 * by id). A company with no grant gets all-zero totals. Grants are listed in burn order, each with
 * the purchase record it names.
 */
export async function balanceReport(
  ledger: Pick<Ledger, 'balance' | 'reader'>,
  now: Date,
  companyId?: string,
): Promise<CompanyBalance[]> {
  const companies = companyId !== undefined ? [companyId] : await ledger.reader.companies();
  return Promise.all(
    companies.map(async (id) => {
      const b = await ledger.balance(id, now);
      const purchaseIds = [...new Set(b.grants.map((g) => g.purchaseId).filter((p): p is string => p !== null))];
      const refs = new Map((await ledger.reader.purchases(purchaseIds)).map((p) => [p.id, p]));
      return {
        ...b,
        grants: b.grants.map((g) => ({
          ...g,
          purchase: g.purchaseId !== null ? (refs.get(g.purchaseId) ?? null) : null,
        })),
        byModel: scopeBalances(b.grants),
      };
    }),
  );
}
