import type { Principal } from '../auth/principal.js';
import type { CompanyConfig, QuotasConfig, RateLimitsConfig } from '../config/schema.js';
import { storedEndUser } from '../attribution/end-user.js';
import { dailyWindow, monthlyWindow } from './windows.js';

export type QuotaWindow = 'daily' | 'monthly' | 'hard' | 'session';

export type { QuotaCheck } from '../ledger/port.js';
import type { QuotaCheck } from '../ledger/port.js';

/** One rate-limit bucket that bounds a request: per rolling minute, for a user or a key. */
export interface RateLimitCheck {
  bucketId: string;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

const WINDOWS: QuotaWindow[] = ['daily', 'monthly', 'hard', 'session'];

/** The limits in force for the principal: the company default for its scope, overridden window by window. */
function limitsFor(
  company: CompanyConfig,
  principal: Principal,
  keyLimits: { quotas?: QuotasConfig; rateLimits?: RateLimitsConfig } | undefined,
) {
  const scope = principal.userId !== null ? 'user' : 'key';
  const defaults = company.limits?.[scope];
  const override =
    scope === 'user'
      ? Object.hasOwn(company.users, principal.userId!)
        ? company.users[principal.userId!]
        : undefined
      : keyLimits;
  return {
    scope,
    quotas: { ...defaults?.quotas, ...override?.quotas } as QuotasConfig,
    rateLimits: { ...defaults?.rateLimits, ...override?.rateLimits } as RateLimitsConfig,
  } as const;
}

/** The checks of `quotas` for one scope at `now`: calendar windows in `timeZone`, the hard quota, the session's (with `sessionId`). */
function checksOf(
  scope: QuotaCheck['scope'],
  scopeId: string,
  quotas: Partial<QuotasConfig>,
  timeZone: string,
  sessionId: string | null,
  now: Date,
): QuotaCheck[] {
  const checks: QuotaCheck[] = [];
  for (const window of WINDOWS) {
    const limit = quotas[window];
    if (!limit) continue;
    let windowKey: string;
    let resetsAt: Date | null = null;
    if (window === 'daily' || window === 'monthly') {
      const w = window === 'daily' ? dailyWindow(now, timeZone) : monthlyWindow(now, timeZone);
      windowKey = w.key;
      resetsAt = w.resetsAt;
    } else if (window === 'session') {
      if (!sessionId) continue;
      windowKey = sessionId;
    } else {
      windowKey = 'all';
    }
    checks.push({
      counterId: `${scope}:${scopeId}:${window}:${windowKey}`,
      scope,
      scopeId,
      window,
      windowKey,
      limitTokens: limit.tokens,
      limitMicroUsd: limit.usd === undefined ? undefined : Math.round(limit.usd * 1_000_000),
      resetsAt,
    });
  }
  return checks;
}

/** Per company config: its end-user overrides by the id as stored (hashed ids hashed once). */
const overridesByStored = new WeakMap<CompanyConfig, Map<string, Partial<QuotasConfig>>>();

/** The quotas of end user `endUser` (as stored) of `companyId`: the company's `endUsers.quotas`, overridden window by window. */
export function endUserQuotas(companyId: string, company: CompanyConfig, endUser: string, now: Date): QuotaCheck[] {
  const e = company.endUsers;
  if (!e) return [];
  let overrides = overridesByStored.get(company);
  if (!overrides) {
    overrides = new Map(Object.entries(e.overrides).map(([id, q]) => [storedEndUser(companyId, company, id), q]));
    overridesByStored.set(company, overrides);
  }
  const quotas = { ...e.quotas, ...overrides.get(endUser) };
  return checksOf('end_user', `${companyId}/${endUser}`, quotas, company.timeZone, null, now);
}

/**
 * The quotas that bound a request of `principal` at `now`: daily and monthly windows in the
 * company's time zone, the hard (lifetime) quota, and the session quota when the user token has a
 * session id. `keyLimits` is the key's own override, for key principals. With `endUser` (as
 * stored), the end user's quotas too (`endUsers` in the company's config).
 */
export function quotasFor(
  company: CompanyConfig,
  principal: Principal,
  keyLimits: { quotas?: QuotasConfig } | undefined,
  now: Date,
  endUser?: string | null,
): QuotaCheck[] {
  const { scope, quotas } = limitsFor(company, principal, keyLimits);
  const scopeId = scope === 'user' ? `${principal.companyId}/${principal.userId}` : principal.keyId!;
  const checks = checksOf(scope, scopeId, quotas, company.timeZone, principal.sessionId, now);
  return endUser ? [...checks, ...endUserQuotas(principal.companyId, company, endUser, now)] : checks;
}

/** The rate limits that bound a request of `principal`, as one bucket (per user or per key). */
export function rateLimitsFor(
  company: CompanyConfig,
  principal: Principal,
  keyLimits: { rateLimits?: RateLimitsConfig } | undefined,
): RateLimitCheck[] {
  const { scope, rateLimits } = limitsFor(company, principal, keyLimits);
  if (!rateLimits.requestsPerMinute && !rateLimits.tokensPerMinute) return [];
  const bucketId = scope === 'user' ? `user:${principal.companyId}/${principal.userId}` : `key:${principal.keyId}`;
  return [{ bucketId, requestsPerMinute: rateLimits.requestsPerMinute, tokensPerMinute: rateLimits.tokensPerMinute }];
}
