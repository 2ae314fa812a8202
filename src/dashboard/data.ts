import type { Hono } from 'hono';
import type { AppEnv } from '../http/env.js';

/**
 * The dashboard reads tollgate's read API (`/tollgate/v1/…`) in-process, with the caller's own
 * session cookie: the same JSON, authentication and visibility rules as any app gets, and nothing
 * read from the ledger directly. Shapes below are the read API's (see docs/reports.md, "Read API").
 */

/** A failed read: the read API's status and OpenAI-shaped error message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A GET against the read API as the session's caller; query values that are undefined or '' are left out. */
export type ApiGet = <T>(path: string, query?: Record<string, string | undefined>) => Promise<T>;

/** Binds a read-API client to `app` and the session cookie's value. */
export function apiClient(app: Hono<AppEnv>, cookie: string): ApiGet {
  return async <T>(path: string, query: Record<string, string | undefined> = {}) => {
    const qs = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
    ).toString();
    const res = await app.request(`${path}${qs ? `?${qs}` : ''}`, { headers: { cookie: `tg_session=${cookie}` } });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new ApiError(res.status, body.error?.message ?? `${path} answered ${res.status}`);
    }
    return (await res.json()) as T;
  };
}

/**
 * `read`'s answer, or `null` when the read API answered 503 (the report ran past the ledger's read
 * budget, or the ledger could not answer): for the breakdowns summed from raw rows (tags, end
 * users), which a long period on a large ledger can take past the budget — the rest of the page
 * is still shown. Any other error is thrown.
 */
export async function unlessUnavailable<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof ApiError && err.status === 503) return null;
    throw err;
  }
}

/** A read-API list answer (`{ data: [...] }`). */
export interface List<T> {
  data: T[];
}

/** Groups a dashboard lists at most (users by usage): the read API's `limit`, the rest summed in one line. */
export const SHOWN_GROUPS = 25;

/**
 * `top` (the groups with the most tokens, from the read API's `limit`) then, when they do not add
 * up to `total`, one row keyed `(others)` with the difference: what a dashboard lists of a
 * breakdown with thousands of groups (a company's users), so that its page — rendered on
 * tollgate's event loop at every refresh — stays the same size however many there are.
 */
export function withRest(top: UsageRowJson[], total: UsageRowJson): UsageRowJson[] {
  const sum = (f: (r: UsageRowJson) => number) => f(total) - top.reduce((t, r) => t + f(r), 0);
  if (sum((r) => r.requests) <= 0) return top;
  return [
    ...top,
    {
      key: '(others)',
      company_id: null,
      requests: sum((r) => r.requests),
      input_tokens: sum((r) => r.input_tokens),
      output_tokens: sum((r) => r.output_tokens),
      total_tokens: sum((r) => r.total_tokens),
      cost_micro_usd: sum((r) => r.cost_micro_usd),
      errors: sum((r) => r.errors),
      avg_latency_ms: null,
    },
  ];
}

/**
 * One group of a usage report as `/tollgate/v1/usage` answers it: `key` the group (a day `YYYY-MM-DD`
 * or hour in UTC, a user, model, endpoint…; null for the total or rows without it), `company_id` for
 * per-company groups (users, end users), tokens, cost in micro-USD (1 USD = 1,000,000), errors (HTTP ≥ 400
 * or voided) and the mean latency in ms (null without any).
 */
export interface UsageRowJson {
  key: string | null;
  company_id: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost_micro_usd: number;
  errors: number;
  avg_latency_ms: number | null;
}

/**
 * One request of the request log (`/tollgate/v1/requests`): instants ISO 8601 UTC, tokens, cost in
 * micro-USD, latency in ms; `end_user` as the ledger stores it (hashed when the company says so);
 * `remaining_tokens` what the company had left after it, when known.
 */
export interface RequestJson {
  id: string;
  created_at: string;
  company_id: string;
  user_id: string | null;
  key_id: string | null;
  endpoint: string;
  model: string | null;
  end_user: string | null;
  tags: string[];
  status: string;
  success: boolean;
  total_tokens: number;
  cost_micro_usd: number;
  latency_ms: number | null;
  remaining_tokens: number | null;
}

/** A grant of a company's balance (`/tollgate/v1/balance`): amounts in its `unit` (tokens or micro-USD; null amount: unlimited), instants ISO 8601 UTC. */
export interface GrantJson {
  id: string;
  /** The config allocation it comes from, how often that renews, whether it holds a rollover. */
  allocation_id: string;
  renews: 'day' | 'week' | 'month' | null;
  rollover: boolean;
  unit: 'tokens' | 'micro_usd';
  priority: number;
  unlimited: boolean;
  models: string[] | null;
  amount: number | null;
  spent: number;
  held: number;
  remaining: number | null;
  active: boolean;
  expires_at: string | null;
  purchase: { id: string; provider: string; date: string } | null;
}

/** A company's budgets (`/tollgate/v1/budgets`): the allocations that renew and the keys' (and an end user's) quota windows. */
export interface BudgetsJson {
  company_id: string;
  renewing: {
    allocation: string;
    every: string;
    grant: string | null;
    unit: 'tokens' | 'micro_usd';
    amount: number;
    carried: number | null;
    spent: number;
    held: number;
    remaining: number;
    renews_at: string | null;
  }[];
  budgets: {
    subject: string;
    window: string;
    limit_tokens: number | null;
    limit_micro_usd: number | null;
    spent_tokens: number;
    spent_micro_usd: number;
    used: number;
    level: 'ok' | 'warning' | 'critical';
    resets_at: string | null;
  }[];
}

/** A company's balance (`/tollgate/v1/balance`): tokens and micro-USD left on active grants, the models without limit, and every grant. */
export interface BalanceJson {
  company_id: string;
  tokens: number;
  micro_usd: number;
  unlimited_models: string[];
  grants: GrantJson[];
}

/**
 * One quota window of a user or key (`/tollgate/v1/quotas`): limits and spend in tokens and micro-USD
 * (null limit: none), `used` the fraction of the tighter limit used (0–1), `level` against the
 * thresholds, `resets_at` ISO 8601 UTC (null for a hard quota).
 */
export interface QuotaJson {
  window: 'daily' | 'monthly' | 'hard' | 'session';
  scope: 'user' | 'key';
  limit_tokens: number | null;
  spent_tokens: number;
  held_tokens: number;
  remaining_tokens: number | null;
  limit_micro_usd: number | null;
  spent_micro_usd: number;
  used: number;
  level: 'ok' | 'warning' | 'critical';
  resets_at: string | null;
}

/** The quota windows of the caller's user or key (`/tollgate/v1/quotas`), in the company's time zone, with the warning thresholds (fractions 0–1). */
export interface QuotasJson extends List<QuotaJson> {
  user_id: string | null;
  key_id: string | null;
  time_zone: string;
  thresholds: { warning: number; critical: number };
}

/**
 * One company in the operator's overview (`/tollgate/v1/overview`): what it has left (tokens,
 * micro-USD), its active grants, this month's use in its time zone (`month` `YYYY-MM`, `month_since`
 * ISO 8601 UTC; tokens, micro-USD), its open holds and recent alerts.
 */
export interface OverviewJson {
  company_id: string;
  name: string;
  time_zone: string;
  tokens: number;
  micro_usd: number;
  unlimited_models: string[];
  active_grants: number;
  month: string;
  month_since: string;
  month_requests: number;
  month_tokens: number;
  month_cost_micro_usd: number;
  open_holds: number;
  alerts: { key: string; kind: string; fired_at: string }[];
}

/** A purchase of upstream credit (`/tollgate/v1/purchases`): its date (`YYYY-MM-DD`), tokens and micro-USD bought, provider, expiry (ISO 8601 UTC) and the grants it funds. */
export interface PurchaseJson {
  id: string;
  date: string;
  total_tokens: number;
  amount_micro_usd: number;
  provider: string;
  expires_at: string | null;
  notes: string | null;
  grants: string[];
}

/** A user's request for more quota (`/tollgate/v1/quota-requests`): when (ISO 8601 UTC), who, what (a window, tokens or USD) and why. */
export interface QuotaRequestJson {
  id: string;
  created_at: string;
  user_id: string;
  requested: { window?: string; tokens?: number; usd?: number };
  justification: string;
}
