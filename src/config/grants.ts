import type { GrantTerms, PurchaseTerms } from '../ledger/port.js';
import type { Config } from './schema.js';

/**
 * The config's allocations and purchases as the ledger mirrors them (`LedgerWriter.syncGrants`):
 * a `usd` grant becomes `micro_usd` (1 USD = 1,000,000), an `unlimited` one has amount 0, instants
 * become ISO 8601 UTC strings.
 */
export function grantTerms(config: Config): { grants: GrantTerms[]; purchases: PurchaseTerms[] } {
  const grants: GrantTerms[] = [];
  for (const [companyId, company] of Object.entries(config.companies)) {
    for (const a of company.allocations) {
      grants.push({
        id: a.id,
        companyId,
        unit: a.usd !== undefined ? 'micro_usd' : 'tokens',
        amount: a.usd !== undefined ? Math.round(a.usd * 1_000_000) : (a.tokens ?? 0),
        unlimited: a.unlimited === true,
        models: a.models ?? null,
        startsAt: a.startsAt?.toISOString() ?? null,
        expiresAt: a.expiresAt?.toISOString() ?? null,
        purchaseId: a.purchase ?? null,
        note: a.note ?? null,
      });
    }
  }
  const purchases: PurchaseTerms[] = Object.entries(config.purchases).map(([id, p]) => ({
    id,
    date: p.date,
    totalTokens: p.totalTokens,
    costPerTokenUsd: p.costPerTokenUsd,
    provider: p.provider,
    expiresAt: p.expiresAt?.toISOString() ?? null,
    notes: p.notes ?? null,
  }));
  return { grants, purchases };
}
