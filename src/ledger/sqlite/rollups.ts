import type { FoldResult, RollupStatus, RollupStore } from '../port.js';
import type { SqliteFolder } from './fold.js';
import type { SqlExecutor } from './runner.js';

/** The SQLite ledger's rollups (`RollupStore`): folding through `folder` (absent on a read-only ledger), status read through `reads`. */
export class SqliteRollups implements RollupStore {
  constructor(
    private readonly folder: SqliteFolder | undefined,
    private readonly reads: Pick<SqlExecutor, 'query'>,
  ) {}

  fold(): Promise<FoldResult> {
    if (!this.folder) return Promise.reject(new Error('the ledger is open read-only: nothing can be folded'));
    return this.folder.fold();
  }

  async catchUp(): Promise<number> {
    let folded = 0;
    for (;;) {
      const r = await this.fold();
      folded += r.folded;
      if (!r.more && r.folded === 0 && r.sequenced === 0) return folded;
    }
  }

  async status(): Promise<RollupStatus> {
    const s = await this.reads.query<{ foldedAt: string | null; foldedRows: number; waiting: number }>({
      sql: `SELECT (SELECT folded_at FROM rollup_state WHERE id = 1) AS foldedAt,
              coalesce((SELECT folded_rows FROM rollup_state WHERE id = 1), 0) AS foldedRows,
              (SELECT count(*) FROM requests WHERE settle_seq > coalesce((SELECT folded_seq FROM rollup_state WHERE id = 1), 0))
              + (SELECT count(*) FROM requests WHERE settle_seq IS NULL AND status <> 'held') AS waiting`,
      mode: 'get',
    });
    return s;
  }
}
