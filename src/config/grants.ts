import { renewalTerms } from '../budgets/renewal.js';
import type { GrantTerms, MirroredGrant, PurchaseTerms } from '../ledger/port.js';
import type { AllocationConfig, Config } from './schema.js';

/** Micro-USD of an amount in USD (1 USD = 1,000,000). */
const micro = (usd: number) => Math.round(usd * 1_000_000);

/** An allocation's terms in the ledger's units, for company `companyId`. */
function termsOf(companyId: string, a: AllocationConfig): GrantTerms {
  return {
    id: a.id,
    companyId,
    unit: a.usd !== undefined ? 'micro_usd' : 'tokens',
    amount: a.usd !== undefined ? micro(a.usd) : (a.tokens ?? 0),
    unlimited: a.unlimited === true,
    models: a.models ?? null,
    startsAt: a.startsAt?.toISOString() ?? null,
    expiresAt: a.expiresAt?.toISOString() ?? null,
    purchaseId: a.purchase ?? null,
    note: a.note ?? null,
    priority: a.priority,
  };
}

/**
 * The config's allocations and purchases as the ledger mirrors them at `now`
 * (`LedgerWriter.syncGrants`): a `usd` grant becomes `micro_usd` (1 USD = 1,000,000), an
 * `unlimited` one has amount 0, instants become ISO 8601 UTC strings. A recurring allocation
 * (`every`) gives the grants of its current period (src/budgets/renewal.ts), reading what its
 * earlier periods left from `mirrored` (`LedgerReader.grants`) for rollover. `renewsAt` is the
 * earliest instant a recurring allocation renews (null: none does), when the grants must be
 * mirrored again.
 */
export function grantTerms(
  config: Config,
  now: Date,
  mirrored: readonly MirroredGrant[] = [],
): { grants: GrantTerms[]; purchases: PurchaseTerms[]; renewsAt: Date | null } {
  const grants: GrantTerms[] = [];
  let renewsAt: Date | null = null;
  for (const [companyId, company] of Object.entries(config.companies)) {
    for (const a of company.allocations) {
      const terms = termsOf(companyId, a);
      if (!a.every) {
        grants.push(terms);
        continue;
      }
      const renewal = renewalTerms(
        terms,
        {
          every: a.every,
          timeZone: company.timeZone,
          startsAt: terms.startsAt,
          expiresAt: terms.expiresAt,
          rollover: a.rollover && {
            max: terms.unit === 'micro_usd' ? micro(a.rollover.max) : a.rollover.max,
            expiresAfter: a.rollover.expiresAfter ?? { unit: a.every, count: 1 },
          },
        },
        now,
        mirrored,
      );
      grants.push(...renewal.grants);
      if (renewal.renewsAt && (!renewsAt || renewal.renewsAt < renewsAt)) renewsAt = renewal.renewsAt;
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
  return { grants, purchases, renewsAt };
}

/** True when some allocation of the config renews (`every`), so mirroring it reads the ledger's grants. */
export function hasRecurring(config: Config): boolean {
  return Object.values(config.companies).some((c) => c.allocations.some((a) => a.every !== undefined));
}
