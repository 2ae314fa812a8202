import type Database from 'better-sqlite3';

/** The `grants` columns admission and settlement use (no `SELECT *`: fewer values to map per row). */
/** The rows still `held` and not deferred (recovery's input; see `HeldRow`). */
export const OPEN_REQUESTS =
  "SELECT id, company_id AS companyId, requested_model AS requestedModel, estimated_prompt_tokens AS estimatedPromptTokens, forwarded, instance_id AS instanceId FROM requests WHERE status = 'held'" +
  ' AND id NOT IN (SELECT request_id FROM deferred_objects)';

const GRANT_COLUMNS = 'id, unit, priority, amount, unlimited, models, starts_at, expires_at, removed_at, spent, held';

/**
 * The ledger's hot-path SQL, prepared once per connection. Admission and settlement run these on
 * every request, so they bypass the query builder (drizzle builds and prepares SQL on each call,
 * measured at over half of a request's CPU time in `bench/`); the schema, migrations and reports
 * stay with drizzle. Column names follow src/ledger/schema.ts.
 */
export function prepareStatements(db: Database.Database) {
  const s = (sql: string) => db.prepare(sql);
  return {
    /** A company's grants still in the config, in burn order (`compareBurnOrder` in allocate.ts; see `Ledger`). */
    grantsOf: s(`SELECT ${GRANT_COLUMNS} FROM grants WHERE company_id = ? AND removed_at IS NULL
                 ORDER BY priority, expires_at IS NULL, expires_at, COALESCE(starts_at, created_at), id`),
    /** For balance reports: the grants with their purchase, read from the file. */
    balanceOf: s(`SELECT ${GRANT_COLUMNS}, purchase_id FROM grants WHERE company_id = ? AND removed_at IS NULL
                  ORDER BY priority, expires_at IS NULL, expires_at, COALESCE(starts_at, created_at), id`),
    grantById: s(`SELECT ${GRANT_COLUMNS} FROM grants WHERE id = ?`),
    /** A grant's running totals, written once per transaction from the state in memory (see `LedgerState`). */
    setGrantTotals: s('UPDATE grants SET held = ?, spent = ? WHERE id = ?'),

    /** A new `held` row; a hold on one grant rides on it (`hold_grant_id`, `hold_amount`), see `insertHold` for more. */
    insertRequest: s(`INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint,
                        requested_model, stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, hold_grant_id, hold_amount,
                        conversation_id, client_request_id, instance_id, forwarded, end_user, tags)
                      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    requestHead: s(
      `SELECT company_id AS companyId, requested_model AS requestedModel, status, hold_grant_id AS holdGrantId,
              hold_amount AS holdAmount FROM requests WHERE id = ?`,
    ),
    /**
     * Parameters in the order of the `finish` call in ledger.ts; the row must still be `held`.
     * `settle_seq` orders finished rows for the rollups' folder (see fold.ts): one past the highest, an index seek.
     */
    finishRequest: s(`UPDATE requests SET status = ?, http_status = ?, returned_model = ?,
                        requested_model = COALESCE(requested_model, ?), price_version = ?, price_source = ?,
                        input_tokens = ?, cached_input_tokens = ?, output_tokens = ?,
                        reasoning_tokens = ?, total_tokens = ?, metered_tokens = ?,
                        cost_micro_usd = ?, cost_nano_usd = ?, tool_calls = ?, units = ?, usage_source = ?, latency_ms = ?, ttfb_ms = ?,
                        upstream_request_id = ?, error_code = ?, settled_at = ?,
                        settle_seq = (SELECT coalesce(max(settle_seq), 0) + 1 FROM requests)
                      WHERE id = ? AND status = 'held'`),
    openRequests: s(OPEN_REQUESTS),

    markForwarded: s("UPDATE requests SET forwarded = 1 WHERE id = ? AND status = 'held' AND forwarded = 0"),
    /** The mark of a row whose prompt admission did not count: its count rides with it. */
    markForwardedCounted: s(
      "UPDATE requests SET forwarded = 1, estimated_prompt_tokens = ? WHERE id = ? AND status = 'held' AND forwarded = 0",
    ),
    /** One grant's part of a hold spread over several grants. */
    insertHold: s('INSERT INTO holds (request_id, grant_id, amount) VALUES (?, ?, ?)'),
    holdsOf: s('SELECT grant_id AS grantId, amount FROM holds WHERE request_id = ?'),
    deleteHolds: s('DELETE FROM holds WHERE request_id = ?'),
    insertDebit: s(
      'INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),

    ensureCounter: s(`INSERT INTO quota_counters (id, company_id, scope, scope_id, window, window_key, created_at)
                      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
    counterById: s(`SELECT id, spent_tokens AS spentTokens, held_tokens AS heldTokens, spent_micro_usd AS spentMicroUsd,
                      held_micro_usd AS heldMicroUsd FROM quota_counters WHERE id = ?`),
    setCounterTotals:
      s(`UPDATE quota_counters SET held_tokens = ?, held_micro_usd = ?, spent_tokens = ?, spent_micro_usd = ?
                           WHERE id = ?`),
    insertQuotaHold: s('INSERT INTO quota_holds (request_id, counter_id, tokens, micro_usd) VALUES (?, ?, ?, ?)'),
    quotaHoldsOf: s(
      'SELECT counter_id AS counterId, tokens, micro_usd AS microUsd FROM quota_holds WHERE request_id = ?',
    ),
    deleteQuotaHolds: s('DELETE FROM quota_holds WHERE request_id = ?'),

    billObject: s(
      'INSERT INTO billed_objects (object_id, kind, request_id, billed_at) VALUES (?, ?, ?, ?) ON CONFLICT(object_id) DO NOTHING',
    ),
  };
}

/** The prepared statements of one ledger connection. */
export type Statements = ReturnType<typeof prepareStatements>;

/** A `grants` row as the hot-path statements return it (`GRANT_COLUMNS`; snake_case, booleans as 0/1). */
export interface GrantRecord {
  id: string;
  unit: 'tokens' | 'micro_usd';
  priority: number;
  amount: number;
  unlimited: number;
  models: string | null;
  starts_at: string | null;
  expires_at: string | null;
  removed_at: string | null;
  spent: number;
  held: number;
}

/** A quota counter's running totals. */
export interface CounterRecord {
  id: string;
  spentTokens: number;
  heldTokens: number;
  spentMicroUsd: number;
  heldMicroUsd: number;
}
