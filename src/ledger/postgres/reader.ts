import type { Queryable } from './db.js';
import type {
  AlertRecord,
  Balance,
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
  UsagePage,
  UsageRow,
} from '../port.js';
import { planUsage } from '../rollups/plan.js';
import { usageRowOf, usageSql, type UsageDialect, type UsageSums } from '../rollups/usage-sql.js';
import { pgReads, type PgReads } from './reads.js';
import { recentRows } from './request-rows.js';
import { ROW, strip, where, type Selected } from './rows-sql.js';
import { behindFold, USAGE, watermark } from './rollup-sql.js';
import { verifyPg } from './verify.js';

/**
 * The Postgres reader (`LedgerReader`): the same queries as the SQLite reader, in Postgres SQL.
 * Groups and ids sort bytewise (`COLLATE "C"`), NULL first, as SQLite does; days and hours are UTC.
 */
export class PgReader implements LedgerReader {
  private readonly reads: PgReads;

  /**
   * @param pool where reports run: the ledger's read pool (its own connections, each statement
   *   bounded by `statement_timeout`), so reports never take a connection from admissions.
   * @param hot the serving pool, for the one read on a request's path (a conversation's context).
   */
  constructor(
    private readonly pool: Queryable,
    private readonly balanceOf: (companyId: string, now: Date) => Promise<Balance>,
    hot: Queryable = pool,
  ) {
    this.reads = pgReads(pool, hot);
  }

  async priceVersions(filter: RequestFilter): Promise<PriceVersionRow[]> {
    const w = where(filter);
    const { rows } = await this.pool.query<PriceVersionRow>(
      `SELECT r.requested_model AS model, r.company_id AS "companyId", r.price_version AS "priceVersion", count(*)::int AS requests
       FROM requests r WHERE ${w.sql} AND r.status = 'settled'
       GROUP BY 1, 2, 3 ORDER BY r.requested_model COLLATE "C" NULLS FIRST, r.company_id COLLATE "C", r.price_version COLLATE "C" NULLS FIRST`,
      w.params,
    );
    return rows;
  }

  async usage(filter: RequestFilter, groupBy: GroupBy, top?: number, page?: UsagePage): Promise<UsageRow[]> {
    const cut = await this.pool.query<{ before: string | null; folded: string | null }>(
      'SELECT (SELECT max(before) FROM archives) AS before, (SELECT folded_xid::text FROM rollup_state WHERE id = 1) AS folded',
    );
    const { before, folded } = cut.rows[0]!;
    const plan = planUsage(filter, groupBy, before);
    const q = usageSql(unfoldedFrom(folded), filter, groupBy, plan, top, page);
    const { rows } = await this.pool.query<UsageSums>(q.text, q.params);
    return rows.map(usageRowOf);
  }

  async rows(filter: RequestFilter): Promise<RequestRow[]> {
    const all: RequestRow[] = [];
    for await (const page of this.exportRows(filter)) all.push(...page);
    return all;
  }

  async *exportRows(filter: RequestFilter, pageSize = 1_000): AsyncGenerator<RequestRow[]> {
    const w = where(filter);
    let after: [string, number] | undefined;
    for (;;) {
      const n = w.params.length;
      const { rows } = await this.pool.query<Selected>(
        `SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql}${after ? ` AND (r.created_at, r.seq) > ($${n + 1}, $${n + 2})` : ''}
         ORDER BY r.created_at, r.seq LIMIT ${Math.max(1, Math.floor(pageSize))}`,
        [...w.params, ...(after ?? [])],
      );
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      after = [last.createdAt, last.seq];
      yield rows.map(strip);
      if (rows.length < pageSize) return;
    }
  }

  recent(filter: RequestFilter, limit: number, now: Date): Promise<RecentRow[]> {
    return recentRows(this.pool, this.balanceOf, filter, limit, now);
  }

  async companies(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      'SELECT DISTINCT company_id COLLATE "C" AS id FROM grants WHERE removed_at IS NULL ORDER BY 1',
    );
    return rows.map((r) => r.id);
  }

  async purchases(ids: string[]): Promise<PurchaseRef[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<PurchaseRef>(
      'SELECT id, provider, date FROM purchases WHERE id = ANY($1::text[])',
      [ids],
    );
    return rows;
  }

  async grants(): Promise<MirroredGrant[]> {
    const { rows } = await this.pool.query<MirroredGrant>(
      `SELECT id, company_id AS "companyId", unit, amount, unlimited, models, starts_at AS "startsAt", expires_at AS "expiresAt", purchase_id AS "purchaseId",
         note, priority, removed_at AS "removedAt", spent, held FROM grants ORDER BY company_id COLLATE "C", id COLLATE "C"`,
    );
    return rows;
  }

  async openHolds(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>("SELECT count(*) AS n FROM requests WHERE status = 'held'");
    return rows[0]!.n;
  }

  async verify(): Promise<Finding[]> {
    return verifyPg(this.pool);
  }

  // Context holds and the dashboard's reads, kept in reads.ts.
  contextTokens(companyId: string, ref: { responseId?: string; conversationId?: string }): Promise<number | undefined> {
    return this.reads.contextTokens(companyId, ref);
  }
  quotaCounters(ids: string[]): Promise<CounterState[]> {
    return this.reads.quotaCounters(ids);
  }
  openHoldsByCompany(): Promise<Record<string, number>> {
    return this.reads.openHoldsByCompany();
  }
  recentAlerts(companyId: string, limit: number): Promise<AlertRecord[]> {
    return this.reads.recentAlerts(companyId, limit);
  }
}

/** The usage dialect with the unfolded rows' part also bounded by `folded`, a watermark read before the report (see `behindFold`). */
function unfoldedFrom(folded: string | null): UsageDialect {
  const [behind, unmarked] = USAGE.unfolded;
  return { ...USAGE, unfolded: [{ from: behind!.from, where: behindFold(watermark(folded)) }, unmarked!] };
}
