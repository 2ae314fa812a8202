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
      sql: `SELECT s.folded_at AS foldedAt, s.folded_rows AS foldedRows,
              (SELECT count(*) FROM requests WHERE settle_seq > s.folded_seq)
              + (SELECT count(*) FROM requests WHERE settle_seq IS NULL AND status <> 'held') AS waiting
            FROM rollup_state s WHERE s.id = 1`,
      mode: 'get',
    });
    return s;
  }
}
