import { JwtKeyError, JwtVerifier } from '../auth/jwt.js';
import { DEFAULT_PRIORITY } from '../ledger/allocate.js';
import type { MirroredGrant } from '../ledger/port.js';
import { canonical, type ConfigChange } from './diff.js';
import { grantTerms } from './grants.js';
import type { Config } from './schema.js';

/**
 * The checks a reload runs beyond the schema, without a running proxy: the JWT keys load (secret
 * env vars set, public keys parse), and the grants can be mirrored into the ledger.
 */

export type { MirroredGrant } from '../ledger/port.js';

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

/**
 * The allocation changes `LedgerWriter.syncGrants` would make to a ledger holding `mirrored`, and the
 * errors it would refuse the config with (a grant moved to another company; a used grant whose unit
 * changed), at `now` (a recurring allocation mirrors its current period). Ids are `<company>/<grant>`.
 */
export function diffAgainstLedger(
  config: Config,
  mirrored: readonly MirroredGrant[],
  now: Date,
): { changes: ConfigChange[]; errors: string[] } {
  const byId = new Map(mirrored.map((g) => [g.id, { ...g, priority: g.priority ?? DEFAULT_PRIORITY }]));
  const changes: ConfigChange[] = [];
  const errors: string[] = [];
  const present = new Set<string>();
  for (const t of grantTerms(config, now, mirrored).grants) {
    present.add(t.id);
    const { id, companyId } = t;
    // A recurring allocation's grants are `<allocation>@<period>`.
    const allocationId = id.split('@')[0];
    const i = config.companies[companyId]!.allocations.findIndex((a) => a.id === allocationId);
    if (t.createOnly && byId.has(id)) continue;
    const { id: _id, createOnly: _c, ...rest } = t;
    const terms: Omit<MirroredGrant, 'id' | 'removedAt' | 'spent' | 'held'> = {
      ...rest,
      priority: rest.priority ?? DEFAULT_PRIORITY,
      models: t.models ? JSON.stringify(t.models) : null,
    };
    const g = byId.get(id);
    const where = `companies.${companyId}.allocations.${i}`;
    if (g && g.companyId !== companyId)
      errors.push(
        `${where}: allocation "${id}" moved from company "${g.companyId}" to "${companyId}"; give it a new id`,
      );
    else if (g && g.unit !== terms.unit && (g.spent !== 0 || g.held !== 0))
      errors.push(`${where}: allocation "${id}" changed unit after use; give it a new id`);
    if (!g || g.removedAt !== null) {
      changes.push({
        kind: 'allocation',
        op: 'added',
        id: `${companyId}/${id}`,
        details: g ? ['restored (it was removed)'] : [],
      });
      continue;
    }
    const details = (Object.keys(terms) as (keyof typeof terms)[])
      .filter((k) => k !== 'companyId' && canonical(g[k]) !== canonical(terms[k]))
      .map(
        (k) => `${k}: ${g[k] === null ? '(none)' : String(g[k])} → ${terms[k] === null ? '(none)' : String(terms[k])}`,
      );
    if (details.length) changes.push({ kind: 'allocation', op: 'changed', id: `${companyId}/${id}`, details });
  }
  for (const g of mirrored)
    if (g.removedAt === null && !present.has(g.id))
      changes.push({
        kind: 'allocation',
        op: 'removed',
        id: `${g.companyId}/${g.id}`,
        details: [`spent ${g.spent}, held ${g.held} (history kept)`],
      });
  return { changes, errors };
}
