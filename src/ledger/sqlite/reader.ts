import type Database from 'better-sqlite3';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
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
  UsagePage,
  UsageRow,
} from '../port.js';
import { planUsage, type UsagePlan } from '../rollups/plan.js';
import { usageRowOf, usageSql, type UsageSums } from '../rollups/usage-sql.js';
import type { LedgerHandle } from './db.js';
import { dashboardReads } from './reads.js';
import { recentRows, rowPages, rowWhere, type BalanceNow } from './request-rows.js';
import { USAGE } from './rollup-sql.js';
import type { ReadRunner } from './runner.js';
import { grants, purchases, requests } from './schema.js';
import { verifyLedger } from './verify.js';

/**
 * The SQLite reader (`LedgerReader`). Usage comes from the rollups (whole UTC days and hours) and
 * the raw rows only for the partial hours at the window's edges and the rows not folded yet; the
 * request log and history walk an index and stop at their limit. Those reads go through `runner`:
 * read-only threads with a time budget while serving, so none runs on the event loop. The small
 * lookups (grants, purchases, open holds, quota counters, alerts, a conversation's context) stay
 * on the serving connection: each is one indexed read of a few rows. `balanceOf` gives the
 * company's balance now (the ledger's own `balance`), for the remaining-tokens column of `recent`.
 */
export class SqliteReader implements LedgerReader {
  /** Whether the file has the rollup tables (a ledger written by an older tollgate, opened read-only, has not). */
  private readonly rollups: boolean;

  constructor(
    private readonly db: LedgerHandle,
    private readonly sqlite: Database.Database,
    private readonly balanceOf: BalanceNow,
    private readonly runner: ReadRunner,
  ) {
    this.rollups =
      sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollup_state'").get() !== undefined;
  }

  async priceVersions(filter: RequestFilter): Promise<PriceVersionRow[]> {
    const w = rowWhere(filter);
    return this.runner.run<PriceVersionRow[]>({
      sql: `SELECT r.requested_model AS model, r.company_id AS companyId, r.price_version AS priceVersion, count(*) AS requests
            FROM requests r WHERE ${w.sql} AND r.status = 'settled'
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      params: w.params,
      mode: 'all',
    });
  }

  async usage(filter: RequestFilter, groupBy: GroupBy, top?: number, page?: UsagePage): Promise<UsageRow[]> {
    let plan: UsagePlan = {
      months: [],
      days: [],
      daysOut: [],
      hours: [],
      hoursOut: [],
      raw: [{ since: filter.since, until: filter.until }],
      covered: null,
    };
    if (this.rollups) {
      const cut = await this.runner.run<{ before: string | null }>({
        sql: 'SELECT max(before) AS before FROM archives',
        mode: 'get',
      });
      plan = planUsage(filter, groupBy, cut.before);
    }
    const q = usageSql(USAGE, filter, groupBy, plan, top, page);
    const rows = await this.runner.run<UsageSums[]>({ sql: q.text, params: q.params, mode: 'all' });
    return rows.map(usageRowOf);
  }

  async rows(filter: RequestFilter): Promise<RequestRow[]> {
    const all: RequestRow[] = [];
    for await (const page of this.exportRows(filter)) all.push(...page);
    return all;
  }

  exportRows(filter: RequestFilter, pageSize = 1_000): AsyncIterable<RequestRow[]> {
    return rowPages(this.runner, filter, pageSize);
  }

  recent(filter: RequestFilter, limit: number, now: Date): Promise<RecentRow[]> {
    return recentRows(this.runner, this.balanceOf, filter, limit, now, this.rollups);
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
        .where(and(eq(requests.status, 'held')))
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
