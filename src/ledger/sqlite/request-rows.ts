import type { RecentRow, RequestFilter, RequestRow } from '../port.js';
import { tagsOf } from '../tags.js';
import type { RollupTable } from '../rollups/dimensions.js';
import { guidedBy, newestGuided, nextHour, rollupFilter } from '../rollups/recent-plan.js';
import { FOLDED, USAGE } from './rollup-sql.js';
import type { ReadRunner } from './runner.js';

/**
 * The SQLite reader's row reads: the request log in pages (export), the newest rows (history) and
 * the tokens remaining after each. Every query walks an index in order and stops at its limit —
 * `requests_company_created` with a company, `requests_created` without — so its cost follows the
 * rows it returns, not the ledger's size.
 */

/** The columns of a `RequestRow`, and the rowid that orders rows admitted in the same millisecond. */
const COLUMNS = `r.id, r.created_at AS createdAt, r.company_id AS companyId, r.user_id AS userId, r.key_id AS keyId, r.endpoint,
  r.requested_model AS requestedModel, r.returned_model AS returnedModel, r.feature, r.end_user AS endUser, r.tags, r.stream, r.status, r.http_status AS httpStatus,
  r.input_tokens AS inputTokens, r.cached_input_tokens AS cachedInputTokens, r.output_tokens AS outputTokens,
  r.reasoning_tokens AS reasoningTokens, r.total_tokens AS totalTokens, r.metered_tokens AS meteredTokens,
  r.cost_micro_usd AS costMicroUsd, r.usage_source AS usageSource, r.latency_ms AS latencyMs, r.error_code AS errorCode, r.rowid AS _rowid`;

type Selected = Omit<RequestRow, 'stream' | 'tags'> & { stream: number | boolean; tags: string | null; _rowid: number };

const strip = ({ _rowid, ...row }: Selected): RequestRow => ({
  ...row,
  stream: Boolean(row.stream),
  tags: tagsOf(row.tags),
});

/** The condition for a filter over `requests r` (rows still `held` left out), with its parameters. */
export function rowWhere(f: RequestFilter): { sql: string; params: unknown[] } {
  const conds = ["r.status <> 'held'"];
  const params: unknown[] = [];
  const add = (cond: string, value: string | undefined) => {
    if (value === undefined) return;
    conds.push(cond);
    params.push(value);
  };
  add('r.company_id = ?', f.companyId);
  add('r.user_id = ?', f.userId);
  add('r.key_id = ?', f.keyId);
  add('r.requested_model = ?', f.model);
  add('r.endpoint = ?', f.endpoint);
  add('r.feature = ?', f.feature);
  add('r.end_user = ?', f.endUser);
  add(USAGE.hasTag('?'), f.tag);
  add('r.created_at >= ?', f.since);
  add('r.created_at < ?', f.until);
  return { sql: conds.join(' AND '), params };
}

/** The rows matching `filter`, oldest first, `size` at a time (keyset pages: each page one short query). */
export async function* rowPages(run: ReadRunner, filter: RequestFilter, size: number): AsyncGenerator<RequestRow[]> {
  const w = rowWhere(filter);
  let after: [string, number] | undefined;
  for (;;) {
    const rows = await run.run<Selected[]>({
      sql: `SELECT ${COLUMNS} FROM requests r WHERE ${w.sql}${after ? ' AND (r.created_at, r.rowid) > (?, ?)' : ''}
            ORDER BY r.created_at, r.rowid LIMIT ?`,
      params: [...w.params, ...(after ?? []), size],
      mode: 'all',
    });
    if (rows.length === 0) return;
    const last = rows[rows.length - 1]!;
    after = [last.createdAt, last._rowid];
    yield rows.map(strip);
    if (rows.length < size) return;
  }
}

/** What `recent` needs of the company's balance now: its tokens left and which grants count. */
export type BalanceNow = (
  companyId: string,
  now: Date,
) => { tokens: number; grants: { id: string; active: boolean; unlimited: boolean; unit: string }[] };

/** Company rows newer than a history's oldest row past which its remaining tokens are not replayed (null). */
export const REMAINING_REPLAY_LIMIT = 20_000;

/**
 * The newest `limit` rows matching `filter`, newest first, each with the company's tokens left
 * right after it (see `LedgerReader.recent`); `rollups` false for a ledger without them.
 */
export async function recentRows(
  run: ReadRunner,
  balanceOf: BalanceNow,
  filter: RequestFilter,
  limit: number,
  now: Date,
  rollups = true,
): Promise<RecentRow[]> {
  const n = Math.max(0, Math.floor(limit));
  const table = rollups ? guidedBy(filter) : null;
  const rows = table ? await guided(run, table, filter, n, now) : await newest(run, filter, n);
  const remaining = new Map<string, number>();
  for (const companyId of new Set(rows.map((r) => r.companyId)))
    await remainingAfter(
      run,
      balanceOf(companyId, now),
      rows.filter((r) => r.companyId === companyId),
      remaining,
    );
  return rows.map((r) => ({ ...strip(r), remainingTokens: remaining.get(r.id) ?? null }));
}

/** The newest `n` rows matching `filter`, walking an index in time order (every row it meets matches a company-only filter). */
function newest(run: ReadRunner, filter: RequestFilter, n: number): Promise<Selected[]> {
  const w = rowWhere(filter);
  return run.run<Selected[]>({
    sql: `SELECT ${COLUMNS} FROM requests r WHERE ${w.sql} ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?`,
    params: [...w.params, n],
    mode: 'all',
  });
}

const newestFirst = (a: Selected, b: Selected) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b._rowid - a._rowid;

/** The newest `n` rows matching a selective filter, guided by the hourly rollup `table` (see `newestGuided`). */
function guided(run: ReadRunner, table: RollupTable, filter: RequestFilter, n: number, now: Date): Promise<Selected[]> {
  const w = rowWhere(filter);
  const f = rollupFilter(filter);
  return newestGuided<Selected>(
    {
      async unfolded() {
        const out: Selected[] = [];
        for (const cond of [`r.settle_seq > ${FOLDED}`, 'r.settle_seq IS NULL'])
          out.push(
            ...(await run.run<Selected[]>({
              sql: `SELECT ${COLUMNS} FROM requests r INDEXED BY requests_settle_seq WHERE ${w.sql} AND ${cond}`,
              params: w.params,
              mode: 'all',
            })),
          );
        return out;
      },
      hours: (low, before) =>
        run.run({
          sql: `SELECT t.hour AS hour, sum(t.requests) AS n FROM ${table.table} t WHERE ${[
            ...f.where.map((c) => `${c} = ?`),
            ...(low !== undefined ? ['t.hour >= ?'] : []),
            ...(before !== undefined ? ['t.hour < ?'] : []),
          ].join(' AND ')} GROUP BY t.hour ORDER BY t.hour DESC LIMIT 48`,
          params: [...f.params, ...(low !== undefined ? [low] : []), ...(before !== undefined ? [before] : [])],
          mode: 'all',
        }),
      inHours: (hours) =>
        run.run({
          sql: `SELECT ${COLUMNS} FROM requests r WHERE ${w.sql} AND (${hours.map(() => '(r.created_at >= ? AND r.created_at < ?)').join(' OR ')})`,
          params: [...w.params, ...hours.flatMap((h) => [h, nextHour(h)])],
          mode: 'all',
        }),
      order: newestFirst,
    },
    filter,
    n,
    now.getTime(),
  );
}

/**
 * Fills `out` with the company's tokens remaining right after each of `mine` (newest first): the
 * tokens left now on its active limited tokens grants, plus what every newer finished row of the
 * company debited from those grants.
 */
async function remainingAfter(
  run: ReadRunner,
  b: ReturnType<BalanceNow>,
  mine: Selected[],
  out: Map<string, number>,
): Promise<void> {
  const oldest = mine[mine.length - 1]!;
  // A filtered history can reach far back: past REMAINING_REPLAY_LIMIT newer rows of the company, leave it null.
  const newer = await run.run<{ n: number }>({
    sql: `SELECT count(*) AS n FROM (SELECT 1 FROM requests r WHERE r.company_id = ? AND r.status != 'held'
            AND (r.created_at, r.rowid) >= (?, ?) LIMIT ${REMAINING_REPLAY_LIMIT + 1})`,
    params: [oldest.companyId, oldest.createdAt, oldest._rowid],
    mode: 'get',
  });
  if (newer.n > REMAINING_REPLAY_LIMIT) return;
  const counted = b.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens').map((g) => g.id);
  const visible = new Set(mine.map((r) => r.id));
  const burned = await run.run<{ id: string; burned: number }[]>({
    sql: `SELECT r.id AS id, COALESCE(SUM(CASE WHEN d.grant_id IN (SELECT value FROM json_each(?)) THEN d.amount END), 0) AS burned
          FROM requests r LEFT JOIN debits d ON d.request_id = r.id
          WHERE r.company_id = ? AND r.status != 'held' AND (r.created_at, r.rowid) >= (?, ?)
          GROUP BY r.id ORDER BY r.created_at DESC, r.rowid DESC`,
    params: [JSON.stringify(counted), oldest.companyId, oldest.createdAt, oldest._rowid],
    mode: 'all',
  });
  let later = 0;
  for (const r of burned) {
    if (visible.has(r.id)) out.set(r.id, b.tokens + later);
    later += r.burned;
  }
}
