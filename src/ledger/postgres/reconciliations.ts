import type {
  HeldOnDay,
  LedgerDayUsage,
  LedgerUsageRange,
  ReconciliationEnd,
  ReconciliationRecord,
  ReconciliationStart,
  ReconciliationStore,
} from '../port.js';
import { COMPANIES_CTE, mergeDayUsage } from '../reconciliation-sums.js';
import type { Queryable } from './db.js';

const DAY = `to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
const unit = (key: string) => `COALESCE(SUM((r.units::jsonb ->> '${key}')::bigint), 0)`;

const USAGE = `${COMPANIES_CTE}
  SELECT ${DAY} AS day, COALESCE(r.returned_model, r.requested_model) AS model,
    COUNT(*) FILTER (WHERE r.input_tokens + r.output_tokens > 0 OR r.cost_nano_usd > 0 OR r.units IS NOT NULL) AS requests,
    COALESCE(SUM(r.input_tokens), 0) AS "inputTokens", COALESCE(SUM(r.cached_input_tokens), 0) AS "cachedInputTokens",
    COALESCE(SUM(r.output_tokens), 0) AS "outputTokens",
    ${unit('audio_input_tokens')} AS "audioInputTokens", ${unit('audio_output_tokens')} AS "audioOutputTokens",
    ${unit('image_input_tokens')} AS "imageInputTokens", ${unit('image_output_tokens')} AS "imageOutputTokens",
    ${unit('images')} AS images, ${unit('characters')} AS characters, ${unit('seconds')} AS seconds,
    COALESCE(SUM(r.cost_nano_usd), 0) AS "costNanoUsd",
    COUNT(*) FILTER (WHERE r.usage_source = 'estimated') AS "estimatedRows"
  FROM c JOIN requests r ON r.company_id = c.id
  WHERE r.created_at >= $1 AND r.created_at < $2 AND r.status <> 'held'
    AND COALESCE(r.error_code, '') <> 'already_billed'
  GROUP BY 1, 2`;

const HELD = `${COMPANIES_CTE}
  SELECT ${DAY} AS day, COUNT(*) AS rows FROM c JOIN requests r ON r.company_id = c.id
  WHERE r.created_at >= $1 AND r.created_at < $2 AND r.status = 'held' GROUP BY 1 ORDER BY 1`;

const COLUMNS = `id, trigger, started_at AS "startedAt", finished_at AS "finishedAt",
  to_char(from_day, 'YYYY-MM-DD') AS "fromDay", to_char(to_day, 'YYYY-MM-DD') AS "toDay", status, report, error`;

/**
 * `ReconciliationStore` on the Postgres ledger (table `reconciliations`), shared by every replica:
 * `begin`'s `INSERT … ON CONFLICT` lets one replica run each scheduled day. `usage` reads each
 * company's rows through the `(company_id, created_at)` index.
 */
export class PgReconciliations implements ReconciliationStore {
  constructor(private readonly pool: Queryable) {}

  async usage(since: string, until: string): Promise<LedgerUsageRange> {
    const [days, held] = await Promise.all([
      this.pool.query<LedgerDayUsage>(USAGE, [since, until]),
      this.pool.query<HeldOnDay>(HELD, [since, until]),
    ]);
    return { days: mergeDayUsage(days.rows), held: held.rows.map((h) => ({ day: h.day, rows: Number(h.rows) })) };
  }

  async begin(run: ReconciliationStart, staleBefore: string): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO reconciliations (id, trigger, started_at, from_day, to_day, status)
       VALUES ($1, $2, $3, $4, $5, 'running')
       ON CONFLICT (id) DO UPDATE SET trigger = excluded.trigger, started_at = excluded.started_at,
         from_day = excluded.from_day, to_day = excluded.to_day, status = 'running', finished_at = NULL,
         report = NULL, error = NULL
       WHERE (reconciliations.status = 'running' AND reconciliations.started_at < $6)
          OR (reconciliations.status = 'failed' AND reconciliations.finished_at < $6)`,
      [run.id, run.trigger, run.startedAt, run.fromDay, run.toDay, staleBefore],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async finish(id: string, end: ReconciliationEnd): Promise<void> {
    await this.pool.query(
      'UPDATE reconciliations SET finished_at = $2, status = $3, report = $4, error = $5 WHERE id = $1',
      [id, end.finishedAt, end.status, end.report, end.error],
    );
  }

  async recent(limit: number): Promise<ReconciliationRecord[]> {
    const { rows } = await this.pool.query<ReconciliationRecord>(
      `SELECT ${COLUMNS} FROM reconciliations ORDER BY started_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows;
  }
}
