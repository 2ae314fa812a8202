import type { AlertRecord, CounterState, LedgerReader } from '../port.js';
import type { Queryable } from './db.js';

/** The Postgres reader's lookups added with the dashboard and context holds (`PgReader` delegates to them). */
export type PgReads = Pick<LedgerReader, 'contextTokens' | 'quotaCounters' | 'openHoldsByCompany' | 'recentAlerts'>;

/**
 * Implements those reads on a pool (or client) of the Postgres ledger, with the SQLite adapter's
 * semantics (src/ledger/sqlite/reads.ts, reader.ts); `contextTokens`, read on a request's path, on
 * `hot` (the serving pool). Read-only.
 */
export function pgReads(pool: Queryable, hot: Queryable = pool): PgReads {
  return {
    async contextTokens(
      companyId: string,
      ref: { responseId?: string; conversationId?: string },
    ): Promise<number | undefined> {
      let rows: { tokens: number }[] = [];
      if (ref.responseId) {
        ({ rows } = await hot.query<{ tokens: number }>(
          `SELECT r.input_tokens + r.output_tokens AS tokens FROM billed_objects b JOIN requests r ON r.id = b.request_id
           WHERE b.object_id = $1 AND b.kind = 'response' AND r.company_id = $2`,
          [ref.responseId, companyId],
        ));
      } else if (ref.conversationId) {
        ({ rows } = await hot.query<{ tokens: number }>(
          `SELECT input_tokens + output_tokens AS tokens FROM requests
           WHERE company_id = $1 AND conversation_id = $2 AND status = 'settled' ORDER BY created_at DESC, seq DESC LIMIT 1`,
          [companyId, ref.conversationId],
        ));
      }
      return rows[0]?.tokens;
    },

    async quotaCounters(ids: string[]): Promise<CounterState[]> {
      if (ids.length === 0) return [];
      const { rows } = await pool.query<CounterState>(
        `SELECT id, spent_tokens AS "spentTokens", held_tokens AS "heldTokens", spent_micro_usd AS "spentMicroUsd", held_micro_usd AS "heldMicroUsd"
         FROM quota_counters WHERE id = ANY($1::text[])`,
        [ids],
      );
      return rows;
    },

    async openHoldsByCompany(): Promise<Record<string, number>> {
      const { rows } = await pool.query<{ companyId: string; n: number }>(
        `SELECT company_id AS "companyId", count(*) AS n FROM requests WHERE status = 'held' GROUP BY company_id`,
      );
      return Object.fromEntries(rows.map((r) => [r.companyId, Number(r.n)]));
    },

    async recentAlerts(companyId: string, limit: number): Promise<AlertRecord[]> {
      const { rows } = await pool.query<AlertRecord>(
        `SELECT key, kind, company_id AS "companyId", fired_at AS "firedAt", payload FROM alerts WHERE company_id = $1 ORDER BY fired_at DESC LIMIT $2`,
        [companyId, Math.max(0, Math.floor(limit))],
      );
      return rows;
    },
  };
}
