import { asc, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { requests } from '../ledger/sqlite/schema.js';
import type { ReportDb } from './db.js';
import { requestWhere, type RequestFilter } from './filters.js';

/** How usage rows are grouped. `user` groups by company and user (user ids are per company); `day` and `hour` are UTC. */
export const GROUP_BYS = ['none', 'company', 'user', 'model', 'endpoint', 'day', 'hour'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/**
 * One group of usage. Tokens are token counts as OpenAI reported them (cached input is part of
 * input, reasoning part of output); cost is integer micro-USD (1 USD = 1,000,000), the rows' exact
 * nano-USD costs summed and rounded once, half up (a million 2-token embeddings cost $0.04, not $0).
 */
export interface UsageRow {
  /**
   * The group's value: the company id, user id, requested model, endpoint, day (`2026-11-24`, UTC)
   * or hour (`2026-11-24T10:00Z`, UTC); null for `none`, or for rows without that field (no user).
   */
  key: string | null;
  /** The company, when grouping by user; otherwise null. */
  companyId: string | null;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  costMicroUsd: number;
  /** Requests that failed: HTTP status ≥ 400, or voided (upstream error without usage). */
  errors: number;
  /** Mean time from admission to the end of the response, in ms (0.1 ms precision); null when no row has one. */
  avgLatencyMs: number | null;
}

function keyOf(groupBy: GroupBy): SQL<string | null> | undefined {
  switch (groupBy) {
    case 'none':
      return undefined;
    case 'company':
      return sql<string>`${requests.companyId}`;
    case 'user':
      return sql<string | null>`${requests.userId}`;
    case 'model':
      return sql<string | null>`${requests.requestedModel}`;
    case 'endpoint':
      return sql<string>`${requests.endpoint}`;
    case 'day':
      return sql<string>`substr(${requests.createdAt}, 1, 10)`;
    case 'hour':
      return sql<string>`substr(${requests.createdAt}, 1, 13) || ':00Z'`;
  }
}

const total = (col: SQLWrapper) => sql<number>`coalesce(sum(${col}), 0)`.mapWith(Number);

/**
 * Usage summed over the ledger rows matching `filter` (rows still `held`, in flight, are left
 * out), one row per group, groups in ascending order of their key. With `groupBy: 'none'` there is
 * exactly one row (all zeros when nothing matches).
 */
export function usageReport(db: ReportDb, filter: RequestFilter, groupBy: GroupBy = 'none'): UsageRow[] {
  const key = keyOf(groupBy);
  const company = groupBy === 'user' ? sql<string>`${requests.companyId}` : undefined;
  const query = db
    .select({
      key: key ?? sql<null>`NULL`,
      companyId: company ?? sql<null>`NULL`,
      requests: sql<number>`count(*)`.mapWith(Number),
      inputTokens: total(requests.inputTokens),
      cachedInputTokens: total(requests.cachedInputTokens),
      outputTokens: total(requests.outputTokens),
      reasoningTokens: total(requests.reasoningTokens),
      totalTokens: total(requests.totalTokens),
      // Summed exactly in nano-USD (SQLite's 64-bit SUM raises an error rather than overflow), rounded once.
      costMicroUsd: sql<number>`(coalesce(sum(${requests.costNanoUsd}), 0) + 500) / 1000`.mapWith(Number),
      errors: total(sql`CASE WHEN ${requests.httpStatus} >= 400 OR ${requests.status} = 'voided' THEN 1 ELSE 0 END`),
      avgLatencyMs: sql<number | null>`avg(${requests.latencyMs})`,
    })
    .from(requests)
    .where(requestWhere(filter));
  const groups = [company, key].filter((g): g is SQL<string> => g !== undefined);
  const rows = groups.length ? query.groupBy(...groups).orderBy(...groups.map((g) => asc(g))).all() : query.all();
  return rows.map((r) => ({
    ...r,
    key: r.key ?? null,
    companyId: r.companyId ?? null,
    avgLatencyMs: r.avgLatencyMs === null ? null : Math.round(r.avgLatencyMs * 10) / 10,
  }));
}
