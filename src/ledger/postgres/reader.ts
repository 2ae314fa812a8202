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
  UsageRow,
} from '../port.js';
import { pgReads, type PgReads } from './reads.js';
import { verifyPg } from './verify.js';

/** The SQL condition for a filter over `requests r` (rows still `held` left out), with its parameters. */
function where(f: RequestFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const parts = ["r.status <> 'held'"];
  const add = (column: string, value: string | undefined, op = '=') => {
    if (value === undefined) return;
    params.push(value);
    parts.push(`r.${column} ${op} $${params.length}`);
  };
  add('company_id', f.companyId);
  add('user_id', f.userId);
  add('key_id', f.keyId);
  add('requested_model', f.model);
  add('endpoint', f.endpoint);
  add('feature', f.feature);
  add('created_at', f.since, '>=');
  add('created_at', f.until, '<');
  return { sql: parts.join(' AND '), params };
}

const KEY: Record<GroupBy, string | null> = {
  none: null,
  company: 'r.company_id',
  user: 'r.user_id',
  model: 'r.requested_model',
  endpoint: 'r.endpoint',
  day: `to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  hour: `to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00Z"')`,
};

const ROW = `r.id, r.created_at AS "createdAt", r.company_id AS "companyId", r.user_id AS "userId", r.key_id AS "keyId", r.endpoint,
  r.requested_model AS "requestedModel", r.returned_model AS "returnedModel", r.feature, r.stream, r.status, r.http_status AS "httpStatus",
  r.input_tokens AS "inputTokens", r.cached_input_tokens AS "cachedInputTokens", r.output_tokens AS "outputTokens", r.reasoning_tokens AS "reasoningTokens",
  r.total_tokens AS "totalTokens", r.metered_tokens AS "meteredTokens", r.cost_micro_usd AS "costMicroUsd", r.usage_source AS "usageSource",
  r.latency_ms AS "latencyMs", r.error_code AS "errorCode"`;

type Selected = RequestRow & { seq: number };

const strip = ({ seq: _seq, ...row }: Selected): RequestRow => row;

/**
 * The Postgres reader (`LedgerReader`): the same queries as the SQLite reader, in Postgres SQL.
 * Groups and ids sort bytewise (`COLLATE "C"`), NULL first, as SQLite does; days and hours are UTC.
 */
export class PgReader implements LedgerReader {
  private readonly reads: PgReads;

  constructor(
    private readonly pool: Queryable,
    private readonly balanceOf: (companyId: string, now: Date) => Promise<Balance>,
  ) {
    this.reads = pgReads(pool);
  }

  async priceVersions(filter: RequestFilter): Promise<PriceVersionRow[]> {
    const w = where(filter);
    const { rows } = await this.pool.query<PriceVersionRow>(
      `SELECT r.requested_model AS model, r.company_id AS "companyId", r.price_version AS "priceVersion", count(*)::int AS requests
       FROM requests r WHERE ${w.sql} AND r.status = 'settled'
       GROUP BY 1, 2, 3 ORDER BY 1 COLLATE "C" NULLS FIRST, 2 COLLATE "C", 3 COLLATE "C" NULLS FIRST`,
      w.params,
    );
    return rows;
  }

  async usage(filter: RequestFilter, groupBy: GroupBy): Promise<UsageRow[]> {
    const key = KEY[groupBy];
    const company = groupBy === 'user' ? 'r.company_id' : null;
    const groups = [company, key].filter((g): g is string => g !== null);
    const w = where(filter);
    const { rows } = await this.pool.query<UsageRow>(
      `SELECT ${key ?? 'NULL'} AS key, ${company ?? 'NULL'} AS "companyId", count(*) AS requests,
         coalesce(sum(r.input_tokens), 0) AS "inputTokens", coalesce(sum(r.cached_input_tokens), 0) AS "cachedInputTokens",
         coalesce(sum(r.output_tokens), 0) AS "outputTokens", coalesce(sum(r.reasoning_tokens), 0) AS "reasoningTokens",
         coalesce(sum(r.total_tokens), 0) AS "totalTokens", div(coalesce(sum(r.cost_nano_usd), 0) + 500, 1000) AS "costMicroUsd",
         coalesce(sum(CASE WHEN r.http_status >= 400 OR r.status = 'voided' THEN 1 ELSE 0 END), 0) AS errors,
         avg(r.latency_ms) AS "avgLatencyMs"
       FROM requests r WHERE ${w.sql}
       ${groups.length ? `GROUP BY ${groups.join(', ')} ORDER BY ${groups.map((g) => `${g} COLLATE "C" NULLS FIRST`).join(', ')}` : ''}`,
      w.params,
    );
    return rows.map((r) => ({
      ...r,
      avgLatencyMs: r.avgLatencyMs === null ? null : Math.round(r.avgLatencyMs * 10) / 10,
    }));
  }

  async rows(filter: RequestFilter): Promise<RequestRow[]> {
    const w = where(filter);
    const { rows } = await this.pool.query<Selected>(
      `SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} ORDER BY r.created_at, r.seq`,
      w.params,
    );
    return rows.map(strip);
  }

  async recent(filter: RequestFilter, limit: number, now: Date): Promise<RecentRow[]> {
    const w = where(filter);
    const { rows } = await this.pool.query<Selected>(
      `SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} ORDER BY r.created_at DESC, r.seq DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
      w.params,
    );
    const remaining = new Map<string, number>();
    for (const companyId of new Set(rows.map((r) => r.companyId)))
      await this.remainingAfter(
        companyId,
        rows.filter((r) => r.companyId === companyId),
        now,
        remaining,
      );
    return rows.map((r) => ({ ...strip(r), remainingTokens: remaining.get(r.id)! }));
  }

  /** See the SQLite reader's `remainingAfter`: tokens left now plus what every newer row of the company debited from those grants. */
  private async remainingAfter(
    companyId: string,
    mine: Selected[],
    now: Date,
    out: Map<string, number>,
  ): Promise<void> {
    const oldest = mine[mine.length - 1]!;
    const b = await this.balanceOf(companyId, now);
    const counted = b.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens').map((g) => g.id);
    const visible = new Set(mine.map((r) => r.id));
    const { rows } = await this.pool.query<{ id: string; burned: number }>(
      `SELECT r.id, COALESCE(SUM(CASE WHEN d.grant_id = ANY($2::text[]) THEN d.amount END), 0) AS burned
       FROM requests r LEFT JOIN debits d ON d.request_id = r.id
       WHERE r.company_id = $1 AND r.status <> 'held' AND (r.created_at > $3 OR (r.created_at = $3 AND r.seq >= $4))
       GROUP BY r.id, r.created_at, r.seq ORDER BY r.created_at DESC, r.seq DESC`,
      [companyId, counted, oldest.createdAt, oldest.seq],
    );
    let later = 0;
    for (const r of rows) {
      if (visible.has(r.id)) out.set(r.id, b.tokens + later);
      later += r.burned;
    }
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
