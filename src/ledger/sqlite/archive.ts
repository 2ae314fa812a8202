import type { ArchiveColumn, ArchiveCursor, ArchiveLine, ArchiveRun, ArchiveStore } from '../port.js';
import { NOT_ARCHIVED } from '../archive/format.js';
import { MEASURE_COLUMNS, rollupMeasures } from '../rollups/dimensions.js';
import type { CommitGate } from './checkpointer.js';
import { heldTransaction } from './fold.js';
import { LATENCY_US } from './rollup-sql.js';
import type { SqlExecutor } from './runner.js';
import { underLock } from './writer-lock.js';

/** SQLite stores these 0/1; the archive writes them as booleans. */
const BOOLEANS = new Set(['stream', 'forwarded', 'unlimited']);
/** ISO 8601 UTC text columns. */
const INSTANTS = new Set(['created_at', 'settled_at']);

/** The rows a run may take: admitted before ?, finished, folded by the run's start (`settle_seq` ≤ ?). */
const ARCHIVABLE = "r.created_at < ? AND r.status <> 'held' AND r.settle_seq <= ?";

type Info = { name: string; type: string };

function typed(c: Info): ArchiveColumn {
  if (BOOLEANS.has(c.name)) return { name: c.name, type: 'boolean' };
  if (INSTANTS.has(c.name)) return { name: c.name, type: 'instant' };
  const t = c.type.toUpperCase();
  return { name: c.name, type: t.includes('INT') ? 'integer' : t.includes('REAL') ? 'real' : 'text' };
}

/** `json_object(…)` of the `alias` row's columns, booleans as JSON true/false. */
function jsonObject(alias: string, columns: ArchiveColumn[], extra = ''): string {
  const pairs = columns.map((c) =>
    c.type === 'boolean'
      ? `'${c.name}', json(CASE WHEN ${alias}.${c.name} IS NULL THEN 'null' WHEN ${alias}.${c.name} THEN 'true' ELSE 'false' END)`
      : `'${c.name}', ${alias}.${c.name}`,
  );
  return `json_object(${pairs.join(', ')}${extra})`;
}

/**
 * The SQLite ledger's side of archiving (`ArchiveStore`): pages of archive lines built by SQLite
 * itself (`json_object`) on `thread`, and deletes in transactions of `limit` rows with the serving
 * connection's commits held meanwhile (`gate`, when a server runs in this process).
 */
export class SqliteArchive implements ArchiveStore {
  readonly engine = 'sqlite';
  private columnsOf?: Promise<{ requests: ArchiveColumn[]; debits: ArchiveColumn[] }>;
  private running = false;

  /**
   * @param thread a writable SQL thread on the ledger (or its connection, in memory).
   * @param gate the serving connection's commit queue, held during each write; none when no server runs in this process.
   * @param path the ledger file, whose `<path>.archive` companion lock makes runs exclusive across processes.
   */
  constructor(
    private readonly thread: SqlExecutor,
    private readonly gate: CommitGate | undefined,
    private readonly path?: string,
  ) {}

  async exclusive<T>(fn: () => Promise<T>): Promise<T | null> {
    if (this.running) return null;
    this.running = true;
    try {
      return await underLock(this.path, 'archive', fn);
    } finally {
      this.running = false;
    }
  }

  columns(): Promise<{ requests: ArchiveColumn[]; debits: ArchiveColumn[] }> {
    const of = async (table: string) =>
      (await this.thread.query<Info[]>({ sql: `SELECT name, type FROM pragma_table_info('${table}')`, mode: 'all' }))
        .filter((c) => !NOT_ARCHIVED.has(c.name) && !(table === 'debits' && c.name === 'request_id'))
        .map(typed);
    this.columnsOf ??= (async () => ({ requests: await of('requests'), debits: await of('debits') }))();
    return this.columnsOf;
  }

  async mark(): Promise<string> {
    const r = await this.thread.query<{ s: number }>({
      sql: 'SELECT coalesce((SELECT folded_seq FROM rollup_state WHERE id = 1), 0) AS s',
      mode: 'get',
    });
    return String(r.s);
  }

  async page(
    before: string,
    mark: string,
    after: ArchiveCursor | undefined,
    limit: number,
  ): Promise<{ lines: ArchiveLine[]; cursor?: ArchiveCursor }> {
    const cols = await this.columns();
    const debits = `(SELECT json_group_array(json(x)) FROM (SELECT ${jsonObject('d', cols.debits)} AS x FROM debits d WHERE d.request_id = r.id ORDER BY d.rowid))`;
    const rows = await this.thread.query<{ id: string; c: string; o: number; line: string; n: number }[]>({
      sql: `SELECT r.id AS id, r.created_at AS c, r.rowid AS o, (SELECT count(*) FROM debits WHERE request_id = r.id) AS n, ${jsonObject('r', cols.requests, `, 'debits', json(${debits})`)} AS line
            FROM requests r WHERE ${ARCHIVABLE}${after ? ' AND (r.created_at, r.rowid) > (?, ?)' : ''}
            ORDER BY r.created_at, r.rowid LIMIT ?`,
      params: [before, Number(mark), ...(after ? [after.createdAt, after.order] : []), limit],
      mode: 'all',
    });
    const last = rows[rows.length - 1];
    return {
      lines: rows.map((r) => ({ id: r.id, line: r.line, debits: r.n })),
      ...(last ? { cursor: { createdAt: last.c, order: last.o } } : {}),
    };
  }

  async begin(before: string, file: string, now: Date): Promise<number> {
    const [r] = (await heldTransaction(this.thread, this.gate, [
      {
        sql: 'INSERT INTO archives (before, file, started_at) VALUES (?, ?, ?) RETURNING id',
        params: [before, file, now.toISOString()],
        mode: 'get',
      },
    ])) as { id: number }[];
    return r!.id;
  }

  async remove(
    run: number,
    before: string,
    mark: string,
    limit: number,
  ): Promise<{ requests: number; debits: number }> {
    const batch = 'SELECT rid FROM temp.archive_batch';
    const ids = 'SELECT id FROM temp.archive_batch';
    const measures = rollupMeasures(LATENCY_US);
    const results = await heldTransaction(this.thread, this.gate, [
      { sql: 'CREATE TEMP TABLE IF NOT EXISTS archive_batch (rid INTEGER PRIMARY KEY, id TEXT NOT NULL)', mode: 'run' },
      { sql: 'DELETE FROM temp.archive_batch', mode: 'run' },
      {
        sql: `INSERT INTO temp.archive_batch (rid, id) SELECT r.rowid, r.id FROM requests r WHERE ${ARCHIVABLE} ORDER BY r.created_at, r.rowid LIMIT ?`,
        params: [before, Number(mark), limit],
        mode: 'run',
      },
      {
        sql: `UPDATE archives SET (${MEASURE_COLUMNS.join(', ')}, debits) = (SELECT ${measures
          .map((m) => `archives.${m.column} + coalesce(${m.raw}, 0)`)
          .join(', ')}, archives.debits + (SELECT count(*) FROM debits WHERE request_id IN (${ids}))
          FROM requests r WHERE r.rowid IN (${batch})) WHERE id = ?`,
        params: [run],
        mode: 'run',
        expect: 1,
      },
      {
        sql: `INSERT INTO debits_archived (grant_id, amount, overdraft, debits)
              SELECT grant_id, sum(amount), sum(overdraft), count(*) FROM debits WHERE request_id IN (${ids}) GROUP BY grant_id
              ON CONFLICT (grant_id) DO UPDATE SET amount = debits_archived.amount + excluded.amount,
                overdraft = debits_archived.overdraft + excluded.overdraft, debits = debits_archived.debits + excluded.debits`,
        mode: 'run',
      },
      { sql: `DELETE FROM debits WHERE request_id IN (${ids})`, mode: 'run' },
      { sql: `DELETE FROM requests WHERE rowid IN (${batch})`, mode: 'run' },
    ]);
    const changes = (i: number) => (results[i] as { changes: number }).changes;
    return { requests: changes(6), debits: changes(5) };
  }

  async finish(run: number, now: Date): Promise<void> {
    await heldTransaction(this.thread, this.gate, [
      { sql: 'UPDATE archives SET finished_at = ? WHERE id = ?', params: [now.toISOString(), run], mode: 'run' },
    ]);
  }

  async runs(): Promise<ArchiveRun[]> {
    return this.thread.query<ArchiveRun[]>({
      sql: `SELECT id, before, file, started_at AS startedAt, finished_at AS finishedAt, requests, debits,
              total_tokens AS totalTokens, cost_nano_usd AS costNanoUsd FROM archives ORDER BY id DESC`,
      mode: 'all',
    });
  }
}
