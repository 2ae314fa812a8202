import { JwtKeyError, JwtVerifier } from '../auth/jwt.js';
import { canonical, type ConfigChange } from './diff.js';
import type { Config } from './schema.js';

/**
 * The checks a reload runs beyond the schema, without a running proxy: the JWT keys load (secret
 * env vars set, public keys parse), and the grants can be mirrored into the ledger.
 */

/** A grant as the ledger mirrors it (`grants` table). */
export interface MirroredGrant {
  id: string;
  companyId: string;
  unit: 'tokens' | 'micro_usd';
  amount: number;
  unlimited: boolean;
  /** JSON array, or null for every model. */
  models: string | null;
  startsAt: string | null;
  expiresAt: string | null;
  purchaseId: string | null;
  note: string | null;
  removedAt: string | null;
  spent: number;
  held: number;
}

/** The JWT problems a reload would refuse (empty when none): what `new JwtVerifier(config).check()` throws. */
export async function jwtProblems(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  try {
    await new JwtVerifier(config, env).check();
    return [];
  } catch (err) {
    if (err instanceof JwtKeyError) return [err.message];
    throw err;
  }
}

type Terms = Pick<MirroredGrant, 'companyId' | 'unit' | 'amount' | 'unlimited' | 'models' | 'startsAt' | 'expiresAt' | 'purchaseId' | 'note'>;

/** A config allocation's terms as `Ledger.syncGrants` writes them. */
function termsOf(companyId: string, a: Config['companies'][string]['allocations'][number]): Terms {
  return {
    companyId,
    unit: a.usd !== undefined ? 'micro_usd' : 'tokens',
    amount: a.usd !== undefined ? Math.round(a.usd * 1_000_000) : (a.tokens ?? 0),
    unlimited: a.unlimited === true,
    models: a.models ? JSON.stringify(a.models) : null,
    startsAt: a.startsAt ? a.startsAt.toISOString() : null,
    expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null,
    purchaseId: a.purchase ?? null,
    note: a.note ?? null,
  };
}

/**
 * The allocation changes `Ledger.syncGrants` would make to a ledger holding `mirrored`, and the
 * errors it would refuse the config with (a grant moved to another company; a used grant whose unit
 * changed). Ids are `<company>/<grant>`.
 */
export function diffAgainstLedger(config: Config, mirrored: readonly MirroredGrant[]): { changes: ConfigChange[]; errors: string[] } {
  const byId = new Map(mirrored.map((g) => [g.id, g]));
  const changes: ConfigChange[] = [];
  const errors: string[] = [];
  const present = new Set<string>();
  for (const [companyId, company] of Object.entries(config.companies)) {
    company.allocations.forEach((a, i) => {
      present.add(a.id);
      const terms = termsOf(companyId, a);
      const g = byId.get(a.id);
      const where = `companies.${companyId}.allocations.${i}`;
      if (g && g.companyId !== companyId) errors.push(`${where}: allocation "${a.id}" moved from company "${g.companyId}" to "${companyId}"; give it a new id`);
      else if (g && g.unit !== terms.unit && (g.spent !== 0 || g.held !== 0)) errors.push(`${where}: allocation "${a.id}" changed unit after use; give it a new id`);
      if (!g || g.removedAt !== null) {
        changes.push({ kind: 'allocation', op: 'added', id: `${companyId}/${a.id}`, details: g ? ['restored (it was removed)'] : [] });
        return;
      }
      const details = (Object.keys(terms) as (keyof Terms)[])
        .filter((k) => k !== 'companyId' && canonical(g[k]) !== canonical(terms[k]))
        .map((k) => `${k}: ${g[k] === null ? '(none)' : String(g[k])} → ${terms[k] === null ? '(none)' : String(terms[k])}`);
      if (details.length) changes.push({ kind: 'allocation', op: 'changed', id: `${companyId}/${a.id}`, details });
    });
  }
  for (const g of mirrored) if (g.removedAt === null && !present.has(g.id)) changes.push({ kind: 'allocation', op: 'removed', id: `${g.companyId}/${g.id}`, details: [`spent ${g.spent}, held ${g.held} (history kept)`] });
  return { changes, errors };
}
