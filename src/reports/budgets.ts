import { storedEndUser } from '../attribution/end-user.js';
import type { CompanyConfig, Config } from '../config/schema.js';
import type { Ledger } from '../ledger/port.js';
import { endUserQuotas, quotasFor } from '../limits/quotas.js';
import { balanceReport } from './balance.js';
import { quotaStandings, type QuotaStanding } from './quotas.js';

/**
 * A company's budgets at an instant, for `tollgate budgets`, the read API's `/tollgate/v1/budgets`
 * and the dashboard: its recurring allocations (this period's grant, what was carried over, when it
 * renews) and the quota windows of its keys (their own budgets) and, when named, of an end user.
 * Amounts in a grant's unit (tokens or micro-USD); instants ISO 8601 UTC.
 */

/** A recurring allocation's current standing. */
export interface Renewing {
  allocation: string;
  every: string;
  grant: string | null;
  unit: 'tokens' | 'micro_usd';
  amount: number;
  spent: number;
  held: number;
  remaining: number;
  renewsAt: string | null;
  /** What the period carried over (its rollover grant's amount), null without rollover. */
  carried: number | null;
}

/** A quota window's standing with whose it is. */
export interface Budget extends QuotaStanding {
  subject: string;
}

/** The standing of a company's recurring allocations at `now`. */
async function renewing(ledger: Ledger, companyId: string, company: CompanyConfig, now: Date): Promise<Renewing[]> {
  const balance = (await balanceReport(ledger, now, companyId))[0]!;
  return company.allocations.flatMap((a) => {
    if (!a.every) return [];
    const current = balance.grants.find((g) => g.id.startsWith(`${a.id}@`) && !g.id.endsWith('.rollover') && g.active);
    const carried = current && balance.grants.find((g) => g.id === `${current.id}.rollover`);
    return [
      {
        allocation: a.id,
        every: a.every,
        grant: current?.id ?? null,
        unit: a.usd !== undefined ? 'micro_usd' : 'tokens',
        amount: current?.amount ?? 0,
        spent: current?.spent ?? 0,
        held: current?.held ?? 0,
        remaining: current?.remaining ?? 0,
        renewsAt: current?.expiresAt ?? null,
        carried: a.rollover ? (carried?.amount ?? 0) : null,
      },
    ];
  });
}

/** The keys' budgets of a company, and an end user's when named. */
async function budgets(
  ledger: Ledger,
  config: Config,
  companyId: string,
  endUser: string | undefined,
  now: Date,
): Promise<Budget[]> {
  const company = config.companies[companyId]!;
  const list: Budget[] = [];
  for (const key of company.keys) {
    const principal = { companyId, keyId: key.id, userId: null, role: key.role, sessionId: null };
    const checks = quotasFor(company, principal, key.limits, now);
    for (const s of await quotaStandings(ledger.reader, checks, config.alerts.quotaThresholds))
      list.push({ ...s, subject: `key ${key.id}` });
  }
  if (endUser !== undefined) {
    const checks = endUserQuotas(companyId, company, storedEndUser(companyId, company, endUser), now);
    for (const s of await quotaStandings(ledger.reader, checks, config.alerts.quotaThresholds))
      list.push({ ...s, subject: `end user ${endUser}` });
  }
  return list;
}

/** Everything above for one company. */
export async function budgetReport(
  ledger: Ledger,
  config: Config,
  companyId: string,
  endUser: string | undefined,
  now: Date,
): Promise<{ company: string; renewing: Renewing[]; budgets: Budget[] }> {
  return {
    company: companyId,
    renewing: await renewing(ledger, companyId, config.companies[companyId]!, now),
    budgets: await budgets(ledger, config, companyId, endUser, now),
  };
}
