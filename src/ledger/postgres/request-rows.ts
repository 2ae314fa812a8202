import type { Balance, RecentRow, RequestFilter } from '../port.js';
import type { RollupTable } from '../rollups/dimensions.js';
import { guidedBy, newestGuided, nextHour, rollupFilter } from '../rollups/recent-plan.js';
import type { Queryable } from './db.js';
import { ROW, strip, where, type Selected } from './rows-sql.js';
import { behindFold, foldedXid } from './rollup-sql.js';

/** Company rows newer than a history's oldest row past which its remaining tokens are not replayed (null), as on SQLite. */
const REMAINING_REPLAY_LIMIT = 20_000;

const newestFirst = (a: Selected, b: Selected) =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.seq - a.seq;

/**
 * The Postgres reader's history (`LedgerReader.recent`), as the SQLite reader's (src/ledger/sqlite/
 * request-rows.ts): a company-only filter walks `requests_company_created` (no filter:
 * `requests_created`) newest first; a filter on more reads the hours the rollups say hold its rows.
 */
export async function recentRows(
  db: Queryable,
  balanceOf: (companyId: string, now: Date) => Promise<Balance>,
  filter: RequestFilter,
  limit: number,
  now: Date,
): Promise<RecentRow[]> {
  const n = Math.max(0, Math.floor(limit));
  const table = guidedBy(filter);
  const rows = table ? await guided(db, table, filter, n, now) : await newest(db, filter, n);
  const remaining = new Map<string, number>();
  // The companies at once (an operator's last 50 rows span every company: one after another, that was 60 round trips).
  await Promise.all(
    [...new Set(rows.map((r) => r.companyId))].map(async (companyId) =>
      remainingAfter(
        db,
        await balanceOf(companyId, now),
        rows.filter((r) => r.companyId === companyId),
        remaining,
      ),
    ),
  );
  return rows.map((r) => ({ ...strip(r), remainingTokens: remaining.get(r.id) ?? null }));
}

async function newest(db: Queryable, filter: RequestFilter, n: number): Promise<Selected[]> {
  const w = where(filter);
  const { rows } = await db.query<Selected>(
    `SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} ORDER BY r.created_at DESC, r.seq DESC LIMIT ${n}`,
    w.params,
  );
  return rows;
}

function guided(db: Queryable, table: RollupTable, filter: RequestFilter, n: number, now: Date): Promise<Selected[]> {
  const w = where(filter);
  const f = rollupFilter(filter);
  const all = async (text: string, params: unknown[]) => (await db.query<Selected>(text, params)).rows;
  return newestGuided<Selected>(
    {
      unfolded: async () => [
        ...(await all(
          `SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} AND ${behindFold(await foldedXid(db))}`,
          w.params,
        )),
        ...(await all(`SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} AND r.settle_xid IS NULL`, w.params)),
      ],
      async hours(low, before) {
        const params: unknown[] = [...f.params];
        const conds = f.where.map((c, i) => `${c} = $${i + 1}`);
        if (low !== undefined) conds.push(`t.hour >= $${params.push(low)}`);
        if (before !== undefined) conds.push(`t.hour < $${params.push(before)}`);
        const { rows } = await db.query<{ hour: string; n: number }>(
          `SELECT t.hour, sum(t.requests) AS n FROM ${table.table} t WHERE ${conds.join(' AND ')}
           GROUP BY t.hour ORDER BY t.hour DESC LIMIT 48`,
          params,
        );
        return rows;
      },
      inHours(hours) {
        const params: unknown[] = [...w.params];
        const ranges = hours.map(
          (h) => `(r.created_at >= $${params.push(h)} AND r.created_at < $${params.push(nextHour(h))})`,
        );
        return all(`SELECT ${ROW}, r.seq FROM requests r WHERE ${w.sql} AND (${ranges.join(' OR ')})`, params);
      },
      order: newestFirst,
    },
    filter,
    n,
    now.getTime(),
  );
}

/**
 * See the SQLite reader's `remainingAfter`: tokens left now plus what every newer row of the
 * company debited from those grants. One statement: the newer rows (the oldest shown is one of
 * them), each with what it debited — none when there are more than the replay limit (not replayed).
 */
async function remainingAfter(db: Queryable, b: Balance, mine: Selected[], out: Map<string, number>): Promise<void> {
  const oldest = mine[mine.length - 1]!;
  const counted = b.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens').map((g) => g.id);
  const visible = new Set(mine.map((r) => r.id));
  const { rows } = await db.query<{ id: string; burned: number }>(
    `WITH newer AS MATERIALIZED (SELECT r.id, r.created_at, r.seq FROM requests r
       WHERE r.company_id = $1 AND r.status <> 'held' AND (r.created_at, r.seq) >= ($3, $4) LIMIT ${REMAINING_REPLAY_LIMIT + 1})
     SELECT n.id, (SELECT COALESCE(SUM(d.amount), 0) FROM debits d WHERE d.request_id = n.id AND d.grant_id = ANY($2::text[])) AS burned
     FROM newer n WHERE (SELECT count(*) FROM newer) <= ${REMAINING_REPLAY_LIMIT}
     ORDER BY n.created_at DESC, n.seq DESC`,
    [oldest.companyId, counted, oldest.createdAt, oldest.seq],
  );
  let later = 0;
  for (const r of rows) {
    if (visible.has(r.id)) out.set(r.id, b.tokens + later);
    later += r.burned;
  }
}
