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
      `SELECT (SELECT folded_at FROM rollup_state WHERE id = 1) AS "foldedAt",
         coalesce((SELECT folded_rows FROM rollup_state WHERE id = 1), 0) AS "foldedRows",
         (SELECT count(*) FROM requests WHERE status <> 'held'
            AND settle_xid >= coalesce((SELECT folded_xid FROM rollup_state WHERE id = 1), '0'::xid8))
         + (SELECT count(*) FROM requests WHERE settle_xid IS NULL AND status <> 'held') AS waiting`,
    );
    return rows[0]!;
  }
}
