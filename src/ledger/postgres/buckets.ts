import type pg from 'pg';
import type { BucketLevel, BucketStore } from '../port.js';
import { transaction } from './db.js';

/**
 * Rate-limit buckets in the Postgres `rate_buckets` table, shared by every replica. One transaction
 * per update: the rows are created if missing and locked in id order in one statement
 * (`INSERT … ON CONFLICT DO UPDATE … RETURNING` locks them), the plan runs, the levels are written
 * back. Round trips: BEGIN, lock, write, COMMIT. `take`, the hot path, is one call of
 * `tollgate_rate_take` (migrations/postgres/0011_ledger_functions.sql): one round trip, one commit.
 */
export class PgBuckets implements BucketStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: Promise<void>,
  ) {}

  async take(ids: string[], limits: number[], amounts: number[], nowMs: number): Promise<number[]> {
    await this.ready;
    const { rows } = await this.pool.query<{ levels: number[] }>({
      name: 'tollgate_rate_take',
      text: 'SELECT tollgate_rate_take($1, $2, $3, $4) AS levels',
      values: [ids, limits, amounts, nowMs],
    });
    return rows[0]!.levels;
  }

  async update<T>(ids: string[], plan: (buckets: Map<string, BucketLevel>) => T): Promise<T> {
    await this.ready;
    if (ids.length === 0) return plan(new Map());
    const sorted = [...new Set(ids)].sort();
    return transaction(this.pool, async (c) => {
      const { rows } = await c.query<{ id: string; level: number | null; at_ms: number | null }>(
        `INSERT INTO rate_buckets (id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id RETURNING id, level, at_ms`,
        [sorted],
      );
      const buckets = new Map<string, BucketLevel>();
      for (const r of rows)
        if (r.level !== null && r.at_ms !== null) buckets.set(r.id, { level: r.level, at: r.at_ms });
      const result = plan(buckets);
      const written = sorted.filter((id) => buckets.has(id));
      if (written.length) {
        await c.query(
          'UPDATE rate_buckets b SET level = t.level, at_ms = t.at FROM unnest($1::text[], $2::float8[], $3::bigint[]) AS t(id, level, at) WHERE b.id = t.id',
          [written, written.map((id) => buckets.get(id)!.level), written.map((id) => Math.round(buckets.get(id)!.at))],
        );
      }
      return result;
    });
  }
}
