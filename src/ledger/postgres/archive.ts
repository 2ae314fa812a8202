import type pg from 'pg';
import { NOT_ARCHIVED } from '../archive/format.js';
import type { ArchiveColumn, ArchiveCursor, ArchiveLine, ArchiveRun, ArchiveStore } from '../port.js';
import { MEASURE_COLUMNS, rollupMeasures } from '../rollups/dimensions.js';
import type { Queryable } from './db.js';
import { LATENCY_US } from './rollup-sql.js';

/** The advisory lock an archive run holds (one run at a time across replicas). */
const ARCHIVE_LOCK = 7_406_211_403;

/** The rows a run may take: admitted before $1, finished, folded by the run's start (`settle_xid` below $2). */
const ARCHIVABLE = "r.created_at < $1 AND r.status <> 'held' AND r.settle_xid < $2::xid8";

type Info = { name: string; type: string };

function typed(c: Info): ArchiveColumn {
  const t = c.type;
  const type =
    t === 'boolean'
      ? 'boolean'
      : t.startsWith('timestamp')
        ? 'instant'
        : t === 'bigint' || t === 'integer' || t === 'smallint'
          ? 'integer'
          : t === 'double precision' || t === 'real' || t === 'numeric'
            ? 'real'
            : 'text';
  return { name: c.name, type };
}

/** The select list of an archive line's columns over `alias` (instants as ISO 8601 UTC text). */
function selectList(alias: string, columns: ArchiveColumn[]): string {
  return columns
    .map((c) =>
      c.type === 'instant'
        ? `to_char(${alias}.${c.name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c.name}`
        : `${alias}.${c.name}`,
    )
    .join(', ');
}

/**
 * The Postgres ledger's side of archiving (`ArchiveStore`): archive lines built by Postgres
 * (`row_to_json`, keys in column order) and deletes of `limit` rows per statement, their totals and
 * debits carried to `archives` and `debits_archived` in the same statement.
 */
export class PgArchive implements ArchiveStore {
  readonly engine = 'postgres';
  private columnsOf?: Promise<{ requests: ArchiveColumn[]; debits: ArchiveColumn[] }>;

  constructor(
    private readonly db: Queryable,
    private readonly connect: () => Promise<pg.PoolClient>,
  ) {}

  async exclusive<T>(fn: () => Promise<T>): Promise<T | null> {
    const c = await this.connect();
    // As in the fold: a connection lost while held is an error on the client, not an uncaught exception.
    const lost = () => {};
    c.on('error', lost);
    try {
      const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [ARCHIVE_LOCK]);
      if (!rows[0]!.ok) return null;
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [ARCHIVE_LOCK]).catch(() => {});
      }
    } finally {
      c.off('error', lost);
      c.release();
    }
  }

  columns(): Promise<{ requests: ArchiveColumn[]; debits: ArchiveColumn[] }> {
    const of = async (table: string) =>
      (
        await this.db.query<Info>(
          `SELECT column_name AS name, data_type AS type FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
          [table],
        )
      ).rows
        .filter((c) => !NOT_ARCHIVED.has(c.name) && !(table === 'debits' && c.name === 'request_id'))
        .map(typed);
    this.columnsOf ??= (async () => ({ requests: await of('requests'), debits: await of('debits') }))();
    return this.columnsOf;
  }

  async mark(): Promise<string> {
    const { rows } = await this.db.query<{ x: string }>(
      "SELECT coalesce((SELECT folded_xid::text FROM rollup_state WHERE id = 1), '0') AS x",
    );
    return rows[0]!.x;
  }

  async page(
    before: string,
    mark: string,
    after: ArchiveCursor | undefined,
    limit: number,
  ): Promise<{ lines: ArchiveLine[]; cursor?: ArchiveCursor }> {
    const cols = await this.columns();
    const debits = `(SELECT coalesce(json_agg(row_to_json(dx)), '[]'::json) FROM (SELECT ${selectList('d', cols.debits)}
                      FROM debits d WHERE d.request_id = r.id ORDER BY d.created_at, d.grant_id COLLATE "C") dx)`;
    const { rows } = await this.db.query<{ id: string; c: string; o: number; line: string; n: number }>(
      `SELECT r.id, r.created_at AS c, r.seq AS o, (SELECT count(*) FROM debits WHERE request_id = r.id) AS n,
              (SELECT row_to_json(x) FROM (SELECT ${selectList('r', cols.requests)}, ${debits} AS debits) x)::text AS line
       FROM requests r WHERE ${ARCHIVABLE}${after ? ' AND (r.created_at, r.seq) > ($3, $4)' : ''}
       ORDER BY r.created_at, r.seq LIMIT ${Math.max(1, Math.floor(limit))}`,
      [before, mark, ...(after ? [after.createdAt, after.order] : [])],
    );
    const last = rows[rows.length - 1];
    return {
      lines: rows.map((r) => ({ id: r.id, line: r.line, debits: r.n })),
      ...(last ? { cursor: { createdAt: last.c, order: last.o } } : {}),
    };
  }

  async begin(before: string, file: string, now: Date): Promise<number> {
    const { rows } = await this.db.query<{ id: number }>(
      'INSERT INTO archives (before, file, started_at) VALUES ($1, $2, $3) RETURNING id',
      [before, file, now.toISOString()],
    );
    return rows[0]!.id;
  }

  async remove(
    run: number,
    before: string,
    mark: string,
    limit: number,
  ): Promise<{ requests: number; debits: number }> {
    const measures = rollupMeasures(LATENCY_US);
    const { rows } = await this.db.query<{ requests: number; debits: number }>(
      `WITH batch AS (SELECT r.id FROM requests r WHERE ${ARCHIVABLE} ORDER BY r.created_at, r.seq LIMIT $3),
        gone_d AS (DELETE FROM debits d USING batch b WHERE d.request_id = b.id RETURNING d.grant_id, d.amount, d.overdraft),
        kept_d AS (INSERT INTO debits_archived (grant_id, amount, overdraft, debits)
                   SELECT grant_id, sum(amount), sum(overdraft), count(*) FROM gone_d GROUP BY grant_id
                   ON CONFLICT (grant_id) DO UPDATE SET amount = debits_archived.amount + excluded.amount,
                     overdraft = debits_archived.overdraft + excluded.overdraft, debits = debits_archived.debits + excluded.debits
                   RETURNING 1),
        gone_r AS (DELETE FROM requests r USING batch b WHERE r.id = b.id RETURNING r.*),
        t AS (SELECT ${measures.map((m) => `coalesce(${m.raw}, 0) AS ${m.column}`).join(', ')},
                     (SELECT count(*) FROM gone_d) AS debits, (SELECT count(*) FROM kept_d) AS kept FROM gone_r r)
       UPDATE archives a SET ${[...MEASURE_COLUMNS, 'debits'].map((m) => `${m} = a.${m} + t.${m}`).join(', ')}
       FROM t WHERE a.id = $4 RETURNING t.requests, t.debits`,
      [before, mark, Math.max(1, Math.floor(limit)), run],
    );
    return rows[0] ?? { requests: 0, debits: 0 };
  }

  async finish(run: number, now: Date): Promise<void> {
    await this.db.query('UPDATE archives SET finished_at = $2 WHERE id = $1', [run, now.toISOString()]);
  }

  async runs(): Promise<ArchiveRun[]> {
    const { rows } = await this.db.query<ArchiveRun>(
      `SELECT id, before, file, started_at AS "startedAt", finished_at AS "finishedAt", requests, debits,
              total_tokens AS "totalTokens", cost_nano_usd AS "costNanoUsd" FROM archives ORDER BY id DESC`,
    );
    return rows;
  }
}
