import type { SpikeMinute, SpikeStore } from '../port.js';
import type { Queryable } from './db.js';

/**
 * The usage-spike alert's minutes in the Postgres `spike_minutes` table, shared by every replica.
 * `add` is ONE statement (one round trip): the deltas are upserted in (subject, minute) order —
 * so two replicas adding at once lock rows in the same order and never deadlock — and the
 * subjects' other minutes are read beside the upserted rows' new totals.
 */
export class PgSpikes implements SpikeStore {
  constructor(private readonly db: Queryable) {}

  async add(deltas: SpikeMinute[], fromMinute: number): Promise<SpikeMinute[]> {
    if (deltas.length === 0) return [];
    const d = [...deltas].sort((a, b) =>
      a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.minute - b.minute,
    );
    const { rows } = await this.db.query<{ subject: string; minute: string; tokens: string }>(
      `WITH d AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS t(subject, minute, tokens, n)),
       up AS (
         INSERT INTO spike_minutes (subject, minute, tokens) SELECT subject, minute, tokens FROM d ORDER BY n
         ON CONFLICT (subject, minute) DO UPDATE SET tokens = spike_minutes.tokens + EXCLUDED.tokens
         RETURNING subject, minute, tokens)
       SELECT subject, minute, tokens FROM up
       UNION ALL
       SELECT s.subject, s.minute, s.tokens FROM spike_minutes s
       WHERE s.subject = ANY($1::text[]) AND s.minute >= $4
         AND NOT EXISTS (SELECT 1 FROM d WHERE d.subject = s.subject AND d.minute = s.minute)`,
      [d.map((x) => x.subject), d.map((x) => x.minute), d.map((x) => x.tokens), fromMinute],
    );
    return rows
      .map((r) => ({ subject: r.subject, minute: Number(r.minute), tokens: Number(r.tokens) }))
      .filter((r) => r.minute >= fromMinute);
  }

  async forget(beforeMinute: number): Promise<void> {
    await this.db.query('DELETE FROM spike_minutes WHERE minute < $1', [beforeMinute]);
  }
}
