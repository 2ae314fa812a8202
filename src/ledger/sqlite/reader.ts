import type Database from 'better-sqlite3';
import { and, asc, desc, eq, gte, inArray, lt, ne, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type {
  AlertRecord,
  CounterState,
  Finding,
  GroupBy,
  LedgerReader,
  MirroredGrant,
  PurchaseRef,
  RecentRow,
  RequestFilter,
  RequestRow,
  PriceVersionRow,
  UsageRow,
} from '../port.js';
import type { LedgerHandle } from './db.js';
import { grants, purchases, requests } from './schema.js';
import { dashboardReads } from './reads.js';
import { verifyLedger } from './verify.js';

/** The SQL condition for a filter over `requests`; rows still `held` (in flight) are always left out. */
function requestWhere(f: RequestFilter): SQL | undefined {
  return and(
    ne(requests.status, 'held'),
    f.companyId !== undefined ? eq(requests.companyId, f.companyId) : undefined,
    f.userId !== undefined ? eq(requests.userId, f.userId) : undefined,
    f.keyId !== undefined ? eq(requests.keyId, f.keyId) : undefined,
    f.model !== undefined ? eq(requests.requestedModel, f.model) : undefined,
    f.endpoint !== undefined ? eq(requests.endpoint, f.endpoint) : undefined,
    f.feature !== undefined ? eq(requests.feature, f.feature) : undefined,
    f.since !== undefined ? gte(requests.createdAt, f.since) : undefined,
    f.until !== undefined ? lt(requests.createdAt, f.until) : undefined,
  );
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

/** The columns of a `RequestRow`, and the rowid that orders rows admitted in the same millisecond. */
const ROW = {
  id: requests.id,
  createdAt: requests.createdAt,
  companyId: requests.companyId,
  userId: requests.userId,
  keyId: requests.keyId,
  endpoint: requests.endpoint,
  requestedModel: requests.requestedModel,
  returnedModel: requests.returnedModel,
  feature: requests.feature,
  stream: requests.stream,
  status: requests.status,
  httpStatus: requests.httpStatus,
  inputTokens: requests.inputTokens,
  cachedInputTokens: requests.cachedInputTokens,
  outputTokens: requests.outputTokens,
  reasoningTokens: requests.reasoningTokens,
  totalTokens: requests.totalTokens,
  meteredTokens: requests.meteredTokens,
  costMicroUsd: requests.costMicroUsd,
  usageSource: requests.usageSource,
  latencyMs: requests.latencyMs,
  errorCode: requests.errorCode,
  rowid: sql<number>`${requests}.rowid`.mapWith(Number),
};

type Selected = Omit<RequestRow, 'status'> & { status: string; rowid: number };

const strip = ({ rowid: _rowid, ...row }: Selected): RequestRow => ({
  ...row,
  status: row.status as RequestRow['status'],
});

/**
 * The SQLite reader (`LedgerReader`): usage, the request log, history with remaining balance,
 * grants, purchases, open holds and the invariant checks, as queries on one connection (read-only
 * is enough). `balanceOf` gives the company's balance now (the ledger's own `balance`), for the
 * remaining-tokens column of `recent`.
 */
export class SqliteReader implements LedgerReader {
  constructor(
    private readonly db: LedgerHandle,
    private readonly sqlite: Database.Database,
    private readonly balanceOf: (
      companyId: string,
      now: Date,
    ) => { tokens: number; grants: { id: string; active: boolean; unlimited: boolean; unit: string }[] },
  ) {}

  async priceVersions(filter: RequestFilter): Promise<PriceVersionRow[]> {
    return this.db
      .select({
        model: requests.requestedModel,
        companyId: requests.companyId,
        priceVersion: requests.priceVersion,
        requests: sql<number>`count(*)`.mapWith(Number),
      })
      .from(requests)
      .where(and(requestWhere(filter), eq(requests.status, 'settled')))
      .groupBy(requests.requestedModel, requests.companyId, requests.priceVersion)
      .orderBy(asc(requests.requestedModel), asc(requests.companyId), asc(requests.priceVersion))
      .all();
  }

  async usage(filter: RequestFilter, groupBy: GroupBy): Promise<UsageRow[]> {
    const key = keyOf(groupBy);
    const company = groupBy === 'user' ? sql<string>`${requests.companyId}` : undefined;
    const query = this.db
      .select({
        key: key ?? sql<null>`NULL`,
        companyId: company ?? sql<null>`NULL`,
        requests: sql<number>`count(*)`.mapWith(Number),
        inputTokens: total(requests.inputTokens),
        cachedInputTokens: total(requests.cachedInputTokens),
        outputTokens: total(requests.outputTokens),
        reasoningTokens: total(requests.reasoningTokens),
        totalTokens: total(requests.totalTokens),
        // Summed exactly in nano-USD (SQLite's 64-bit SUM raises an error rather than overflow), rounded once, half up.
        costMicroUsd: sql<number>`(coalesce(sum(${requests.costNanoUsd}), 0) + 500) / 1000`.mapWith(Number),
        errors: total(sql`CASE WHEN ${requests.httpStatus} >= 400 OR ${requests.status} = 'voided' THEN 1 ELSE 0 END`),
        avgLatencyMs: sql<number | null>`avg(${requests.latencyMs})`,
      })
      .from(requests)
      .where(requestWhere(filter));
    const groups = [company, key].filter((g): g is SQL<string> => g !== undefined);
    const rows = groups.length
      ? query
          .groupBy(...groups)
          .orderBy(...groups.map((g) => asc(g)))
          .all()
      : query.all();
    return rows.map((r) => ({
      ...r,
      key: r.key ?? null,
      companyId: r.companyId ?? null,
      avgLatencyMs: r.avgLatencyMs === null ? null : Math.round(r.avgLatencyMs * 10) / 10,
    }));
  }

  async rows(filter: RequestFilter): Promise<RequestRow[]> {
    return this.db
      .select(ROW)
      .from(requests)
      .where(requestWhere(filter))
      .orderBy(asc(requests.createdAt), asc(sql`${requests}.rowid`))
      .all()
      .map(strip);
  }

  async recent(filter: RequestFilter, limit: number, now: Date): Promise<RecentRow[]> {
    const rows = this.db
      .select(ROW)
      .from(requests)
      .where(requestWhere(filter))
      .orderBy(desc(requests.createdAt), desc(sql`${requests}.rowid`))
      .limit(limit)
      .all();
    const remaining = new Map<string, number>();
    for (const companyId of new Set(rows.map((r) => r.companyId)))
      this.remainingAfter(
        companyId,
        rows.filter((r) => r.companyId === companyId),
        now,
        remaining,
      );
    return rows.map((r) => ({ ...strip(r), remainingTokens: remaining.get(r.id)! }));
  }

  /**
   * Fills `out` with the company's tokens remaining right after each of `mine` (newest first): the
   * tokens left now on its active limited tokens grants, plus what every newer finished row of the
   * company debited from those grants.
   */
  private remainingAfter(companyId: string, mine: Selected[], now: Date, out: Map<string, number>): void {
    const oldest = mine[mine.length - 1]!;
    const b = this.balanceOf(companyId, now);
    const counted = b.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens').map((g) => g.id);
    const visible = new Set(mine.map((r) => r.id));
    const burned = this.db.all<{ id: string; burned: number }>(sql`
      SELECT r.id AS id, COALESCE(SUM(CASE WHEN d.grant_id IN (SELECT value FROM json_each(${JSON.stringify(counted)})) THEN d.amount END), 0) AS burned
      FROM requests r LEFT JOIN debits d ON d.request_id = r.id
      WHERE r.company_id = ${companyId} AND r.status != 'held'
        AND (r.created_at > ${oldest.createdAt} OR (r.created_at = ${oldest.createdAt} AND r.rowid >= ${oldest.rowid}))
      GROUP BY r.id ORDER BY r.created_at DESC, r.rowid DESC`);
    let later = 0;
    for (const r of burned) {
      if (visible.has(r.id)) out.set(r.id, b.tokens + later);
      later += r.burned;
    }
  }

  async companies(): Promise<string[]> {
    return this.db
      .selectDistinct({ id: grants.companyId })
      .from(grants)
      .where(sql`${grants.removedAt} IS NULL`)
      .orderBy(asc(grants.companyId))
      .all()
      .map((r) => r.id);
  }

  async purchases(ids: string[]): Promise<PurchaseRef[]> {
    if (ids.length === 0) return [];
    return this.db
      .select({ id: purchases.id, provider: purchases.provider, date: purchases.date })
      .from(purchases)
      .where(inArray(purchases.id, ids))
      .all();
  }

  async grants(): Promise<MirroredGrant[]> {
    return this.db
      .select({
        id: grants.id,
        companyId: grants.companyId,
        unit: grants.unit,
        amount: grants.amount,
        unlimited: grants.unlimited,
        models: grants.models,
        startsAt: grants.startsAt,
        expiresAt: grants.expiresAt,
        purchaseId: grants.purchaseId,
        note: grants.note,
        priority: grants.priority,
        removedAt: grants.removedAt,
        spent: grants.spent,
        held: grants.held,
      })
      .from(grants)
      .orderBy(asc(grants.companyId), asc(grants.id))
      .all();
  }

  async openHolds(): Promise<number> {
    return (
      this.db
        .select({ n: sql<number>`count(*)`.mapWith(Number) })
        .from(requests)
        .where(eq(requests.status, 'held'))
        .get()?.n ?? 0
    );
  }

  async verify(): Promise<Finding[]> {
    return verifyLedger(this.sqlite);
  }

  private context?: { response: Database.Statement; conversation: Database.Statement };

  async contextTokens(
    companyId: string,
    ref: { responseId?: string; conversationId?: string },
  ): Promise<number | undefined> {
    this.context ??= {
      response:
        this.sqlite.prepare(`SELECT r.input_tokens + r.output_tokens AS tokens FROM billed_objects b JOIN requests r ON r.id = b.request_id
                                     WHERE b.object_id = ? AND b.kind = 'response' AND r.company_id = ?`),
      conversation: this.sqlite.prepare(`SELECT input_tokens + output_tokens AS tokens FROM requests
                                         WHERE company_id = ? AND conversation_id = ? AND status = 'settled' AND conversation_id IS NOT NULL
                                         ORDER BY created_at DESC LIMIT 1`),
    };
    const row = ref.responseId
      ? this.context.response.get(ref.responseId, companyId)
      : ref.conversationId
        ? this.context.conversation.get(companyId, ref.conversationId)
        : undefined;
    return (row as { tokens: number } | undefined)?.tokens;
  }

  // The dashboard's reads, kept in reads.ts.
  quotaCounters(ids: string[]): Promise<CounterState[]> {
    return dashboardReads(this.db).quotaCounters(ids);
  }
  openHoldsByCompany(): Promise<Record<string, number>> {
    return dashboardReads(this.db).openHoldsByCompany();
  }
  recentAlerts(companyId: string, limit: number): Promise<AlertRecord[]> {
    return dashboardReads(this.db).recentAlerts(companyId, limit);
  }
}
