import type { Principal } from '../auth/principal.js';
import { storedEndUser } from '../attribution/end-user.js';
import type { OperatorConfig } from '../config/schema.js';
import { invalidRequest, type Denial } from '../http/denial.js';
import { PERIODS, resolveWindow, type Period, type RequestFilter } from '../reports/filters.js';
import type { Runtime } from '../runtime.js';

/**
 * Who reads the read API, and the ledger filter its query parameters give, narrowed to what that
 * reader may see (the visibility table is in read.ts).
 */

/** Who is reading. */
export type Reader = { kind: 'operator'; operator: OperatorConfig } | { kind: 'principal'; principal: Principal };

/**
 * The filter parameters of `usage`, `requests` and `export.csv`: `tag` matches rows carrying that
 * spend tag; `end_user` names the end user as the app sends it (hashed like the ledger when the
 * company stores hashed ids: the caller's company, or an operator's `company`).
 */
export const FILTER_PARAMS = [
  'company',
  'user',
  'key',
  'model',
  'endpoint',
  'feature',
  'tag',
  'end_user',
  'period',
  'since',
  'until',
] as const;

/** 403 `permission_denied`, OpenAI's shape for a request the credential may not make. */
export function permissionDenied(message: string, param: string | null = null): Denial {
  return { kind: 'permission_denied', message, param };
}

/** The company a key id belongs to in the running config. */
function companyOfKey(rt: Pick<Runtime, 'config'>, keyId: string): string | undefined {
  for (const [companyId, company] of Object.entries(rt.config.companies))
    if (company.keys.some((k) => k.id === keyId)) return companyId;
  return undefined;
}

/**
 * The ledger filter for a reader and the query's filters, narrowed to what the reader may see, or
 * the 400 / 403 to answer.
 */
export function scopedFilter(
  rt: Pick<Runtime, 'config'>,
  reader: Reader,
  q: Record<string, string>,
  now: Date,
): RequestFilter | Denial {
  let window: { since?: string; until?: string };
  if (q.period !== undefined && !(q.period in PERIODS))
    return invalidRequest(`period: expected one of ${Object.keys(PERIODS).join(', ')}, got "${q.period}"`, 'period');
  try {
    window = resolveWindow({ period: q.period as Period | undefined, since: q.since, until: q.until }, now);
  } catch (err) {
    const param =
      q.period !== undefined && (q.since !== undefined || q.until !== undefined)
        ? 'period'
        : /^until/.test((err as Error).message)
          ? 'until'
          : 'since';
    return invalidRequest((err as Error).message, param);
  }
  const f: RequestFilter = { ...window };
  if (q.model !== undefined) f.model = q.model;
  if (q.endpoint !== undefined) f.endpoint = q.endpoint;
  if (q.feature !== undefined) f.feature = q.feature;
  if (q.company !== undefined) f.companyId = q.company;
  if (q.user !== undefined) f.userId = q.user;
  if (q.key !== undefined) f.keyId = q.key;
  if (q.tag !== undefined) f.tag = q.tag;
  if (q.end_user !== undefined) {
    const company = f.companyId ?? (reader.kind === 'principal' ? reader.principal.companyId : undefined);
    const config = company === undefined ? undefined : rt.config.companies[company];
    f.endUser = config ? storedEndUser(company!, config, q.end_user) : q.end_user;
  }
  if (reader.kind === 'operator') return f;

  const p = reader.principal;
  if (q.company !== undefined && q.company !== p.companyId)
    return permissionDenied(`You may only read company '${p.companyId}'.`, 'company');
  f.companyId = p.companyId;
  if (q.key !== undefined) {
    const owner = companyOfKey(rt, q.key);
    if (owner !== undefined && owner !== p.companyId)
      return permissionDenied(`Key '${q.key}' is not a key of company '${p.companyId}'.`, 'key');
  }
  if (p.role === 'admin') return f;
  if (p.userId !== null) {
    if (q.user !== undefined && q.user !== p.userId)
      return permissionDenied(`You may only read your own usage (user '${p.userId}').`, 'user');
    f.userId = p.userId;
  } else {
    if (q.key !== undefined && q.key !== p.keyId)
      return permissionDenied(`This key may only read its own usage (key '${p.keyId}').`, 'key');
    f.keyId = p.keyId ?? '\u0000';
  }
  return f;
}
