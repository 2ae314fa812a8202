import type Database from 'better-sqlite3';
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
import { inline, type ReadRunner } from './runner.js';

/** A company's month of rows read by one statement: a background job's budget (ms), not a report's. */
const USAGE_BUDGET_MS = 120_000;

const unit = (key: string) => `COALESCE(SUM(json_extract(units, '$.${key}')), 0)`;

const USAGE = `SELECT substr(created_at, 1, 10) AS day, COALESCE(returned_model, requested_model) AS model,
    COALESCE(SUM(CASE WHEN input_tokens + output_tokens > 0 OR cost_nano_usd > 0 OR units IS NOT NULL THEN 1 ELSE 0 END), 0) AS requests,
    COALESCE(SUM(input_tokens), 0) AS inputTokens, COALESCE(SUM(cached_input_tokens), 0) AS cachedInputTokens,
    COALESCE(SUM(output_tokens), 0) AS outputTokens,
    ${unit('audio_input_tokens')} AS audioInputTokens, ${unit('audio_output_tokens')} AS audioOutputTokens,
    ${unit('image_input_tokens')} AS imageInputTokens, ${unit('image_output_tokens')} AS imageOutputTokens,
    ${unit('images')} AS images, ${unit('characters')} AS characters, ${unit('seconds')} AS seconds,
    COALESCE(SUM(cost_nano_usd), 0) AS costNanoUsd,
    COALESCE(SUM(CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END), 0) AS estimatedRows
  FROM requests
  WHERE company_id = ? AND created_at >= ? AND created_at < ? AND status <> 'held'
    AND COALESCE(error_code, '') <> 'already_billed'
  GROUP BY day, model`;

const HELD = `SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS rows FROM requests
  WHERE company_id = ? AND created_at >= ? AND created_at < ? AND status = 'held' GROUP BY day`;

const COLUMNS = `id, trigger, started_at AS startedAt, finished_at AS finishedAt, from_day AS fromDay,
  to_day AS toDay, status, report, error`;

/**
 * `ReconciliationStore` on the SQLite ledger (table `reconciliations`). `usage` reads each company's
 * rows through the `(company_id, created_at)` index, one statement per company, on `reads`: the
 * ledger's read threads while serving (never on the event loop; up to 120 s per statement), the
 * connection itself for the CLI and an in-memory ledger.
 */
export class SqliteReconciliations implements ReconciliationStore {
  constructor(
    private readonly sqlite: Database.Database,
    private readonly reads: ReadRunner = inline(sqlite),
  ) {}

  async usage(since: string, until: string): Promise<LedgerUsageRange> {
    const parts: LedgerDayUsage[][] = [];
    const held = new Map<string, number>();
    const all = <T>(sql: string, params: unknown[] = []) =>
      this.reads.run<T[]>({ sql, params, mode: 'all' }, USAGE_BUDGET_MS);
    const companies = await all<{ id: string }>(`${COMPANIES_CTE} SELECT id FROM c WHERE id IS NOT NULL`);
    for (const { id: company } of companies) {
      parts.push(await all<LedgerDayUsage>(USAGE, [company, since, until]));
      for (const h of await all<HeldOnDay>(HELD, [company, since, until]))
        held.set(h.day, (held.get(h.day) ?? 0) + h.rows);
    }
    return {
      days: mergeDayUsage(parts.flat()),
      held: [...held].map(([day, rows]) => ({ day, rows })).sort((a, b) => (a.day < b.day ? -1 : 1)),
    };
  }

  async begin(run: ReconciliationStart, staleBefore: string): Promise<boolean> {
    const r = this.sqlite
      .prepare(
        `INSERT INTO reconciliations (id, trigger, started_at, from_day, to_day, status)
         VALUES (@id, @trigger, @startedAt, @fromDay, @toDay, 'running')
         ON CONFLICT (id) DO UPDATE SET trigger = excluded.trigger, started_at = excluded.started_at,
           from_day = excluded.from_day, to_day = excluded.to_day, status = 'running', finished_at = NULL,
           report = NULL, error = NULL
         WHERE (reconciliations.status = 'running' AND reconciliations.started_at < @staleBefore)
            OR (reconciliations.status = 'failed' AND reconciliations.finished_at < @staleBefore)`,
      )
      .run({ ...run, staleBefore });
    return r.changes > 0;
  }

  async finish(id: string, end: ReconciliationEnd): Promise<void> {
    this.sqlite
      .prepare(
        'UPDATE reconciliations SET finished_at = @finishedAt, status = @status, report = @report, error = @error WHERE id = @id',
      )
      .run({ ...end, id });
  }

  async recent(limit: number): Promise<ReconciliationRecord[]> {
    return this.sqlite
      .prepare(`SELECT ${COLUMNS} FROM reconciliations ORDER BY started_at DESC, id DESC LIMIT ?`)
      .all(limit) as ReconciliationRecord[];
  }
}
