import type { FoldResult, RollupStatus, RollupStore } from '../port.js';
import type { Queryable } from './db.js';
import type { PgFolder } from './fold.js';

/** The Postgres ledger's rollups (`RollupStore`): folding through `folder` (absent read-only), status read through `db`. */
export class PgRollups implements RollupStore {
  constructor(
    private readonly folder: PgFolder | undefined,
    private readonly db: Queryable,
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
    const { rows } = await this.db.query<RollupStatus>(
      `SELECT s.folded_at AS "foldedAt", s.folded_rows AS "foldedRows",
         (SELECT count(*) FROM requests WHERE settle_xid >= s.folded_xid AND status <> 'held')
         + (SELECT count(*) FROM requests WHERE settle_xid IS NULL AND status <> 'held') AS waiting
       FROM rollup_state s WHERE s.id = 1`,
    );
    return rows[0]!;
  }
}
