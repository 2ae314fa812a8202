import { and, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import { Ledger } from '../ledger/sqlite/ledger.js';
import { debits, requests } from '../ledger/sqlite/schema.js';
import type { ReportDb } from './db.js';

/** One request in the usage history (seed 002: Generator, Tokens Used, Date, Remaining). */
export interface HistoryRow {
  requestId: string;
  /** Admission instant, ISO 8601 UTC. */
  createdAt: string;
  companyId: string;
  userId: string | null;
  endpoint: string;
  /** The model the caller asked for. */
  model: string | null;
  feature: string | null;
  status: 'settled' | 'voided' | 'interrupted';
  /** Tokens the request used (`total_tokens`). */
  tokensUsed: number;
  /** Its cost, integer micro-USD. */
  costMicroUsd: number;
  /** The company's tokens left right after this request; see `historyReport`. */
  remainingTokens: number;
}

/**
 * The last `limit` finished requests (default 50; rows still `held` are in flight and left out),
 * newest first, of one company or of all, each with the company's tokens remaining after it.
 *
 * Remaining after a row = the company's tokens remaining now (`Ledger.balance(now).tokens`: active,
 * limited tokens grants, net of the holds of requests in flight) plus the tokens that the company's
 * later rows (newer, by admission time) debited from those same grants. So the newest row shows the
 * current balance, and each older one adds back what came after it. Usage charged to an unlimited
 * grant, a USD grant, or a grant that is no longer active does not move it; a grant's later edits,
 * expiries and overdrafts are not replayed, so for old rows it is the current grants' view.
 */
export function historyReport(db: ReportDb, now: Date, opts: { companyId?: string; limit?: number } = {}): HistoryRow[] {
  const limit = opts.limit ?? 50;
  const rows = db
    .select({
      requestId: requests.id,
      createdAt: requests.createdAt,
      companyId: requests.companyId,
      userId: requests.userId,
      endpoint: requests.endpoint,
      model: requests.requestedModel,
      feature: requests.feature,
      status: requests.status,
      tokensUsed: requests.totalTokens,
      costMicroUsd: requests.costMicroUsd,
    })
    .from(requests)
    .where(and(ne(requests.status, 'held'), opts.companyId !== undefined ? eq(requests.companyId, opts.companyId) : undefined))
    .orderBy(desc(requests.createdAt), desc(sql`${requests}.rowid`))
    .limit(limit)
    .all();
  if (rows.length === 0) return [];

  const ledger = new Ledger(db);
  const current = new Map<string, { tokens: number; counted: Set<string> }>();
  for (const companyId of new Set(rows.map((r) => r.companyId))) {
    const b = ledger.balance(companyId, now);
    current.set(companyId, { tokens: b.tokens, counted: new Set(b.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens').map((g) => g.id)) });
  }
  const burned = new Map<string, { grantId: string; amount: number }[]>();
  const ids = rows.map((r) => r.requestId);
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const d of db.select({ requestId: debits.requestId, grantId: debits.grantId, amount: debits.amount }).from(debits).where(inArray(debits.requestId, chunk)).all()) {
      burned.set(d.requestId, [...(burned.get(d.requestId) ?? []), d]);
    }
  }

  const later = new Map<string, number>();
  return rows.map((r) => {
    const c = current.get(r.companyId)!;
    const remainingTokens = c.tokens + (later.get(r.companyId) ?? 0);
    const own = (burned.get(r.requestId) ?? []).filter((d) => c.counted.has(d.grantId)).reduce((s, d) => s + d.amount, 0);
    later.set(r.companyId, (later.get(r.companyId) ?? 0) + own);
    return { ...r, status: r.status as HistoryRow['status'], remainingTokens };
  });
}
