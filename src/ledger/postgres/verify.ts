import type { Queryable } from './db.js';
import type { Finding } from '../port.js';
import { rollupChecks } from '../rollups/verify-sql.js';
import { FOLD, FOLDED, LATENCY_US } from './rollup-sql.js';

interface Check {
  name: string;
  severity: Finding['severity'];
  detail: string;
  /** A query returning one row per offence, with text columns `row` (the id to name) and `info`. */
  sql: string;
}

/**
 * Every open hold, one row per request and grant (`grant_id`, `amount` in the grant's unit): the
 * `holds` rows of holds spread over several grants, and the hold a `held` request keeps on its row.
 */
const ALL_HOLDS = `SELECT grant_id, amount FROM holds
  UNION ALL SELECT hold_grant_id, hold_amount FROM requests WHERE status = 'held' AND hold_grant_id IS NOT NULL`;

/**
 * The ledger's invariants in Postgres SQL: the same checks as the SQLite ledger's verify.ts (whose
 * names, severities and details they share). Column types already guarantee integers (`bigint`)
 * and UTC instants (`timestamptz`), so those checks reduce to the signs of the amounts.
 */
const CHECKS: Check[] = [
  {
    name: 'grant_held_matches_holds',
    severity: 'error',
    detail: 'grants.held differs from the sum of its open holds',
    sql: `WITH h AS (${ALL_HOLDS}) SELECT g.id, 'held=' || g.held || ' holds=' || COALESCE(SUM(h.amount), 0)
          FROM grants g LEFT JOIN h ON h.grant_id = g.id GROUP BY g.id HAVING g.held <> COALESCE(SUM(h.amount), 0)`,
  },
  {
    name: 'grant_spent_matches_debits',
    severity: 'error',
    detail: 'grants.spent differs from the sum of its debits (those archived included)',
    sql: `SELECT g.id, 'spent=' || g.spent || ' debits=' || (COALESCE(SUM(d.amount), 0) + COALESCE(MAX(a.amount), 0))
          FROM grants g LEFT JOIN debits d ON d.grant_id = g.id LEFT JOIN debits_archived a ON a.grant_id = g.id
          GROUP BY g.id HAVING g.spent <> COALESCE(SUM(d.amount), 0) + COALESCE(MAX(a.amount), 0)`,
  },
  {
    name: 'quota_held_matches_holds',
    severity: 'error',
    detail: 'quota_counters.held_tokens / held_micro_usd differ from the sum of its open quota holds',
    sql: `SELECT c.id, 'held=' || c.held_tokens || '/' || c.held_micro_usd || ' holds=' || COALESCE(SUM(h.tokens), 0) || '/' || COALESCE(SUM(h.micro_usd), 0)
          FROM quota_counters c LEFT JOIN quota_holds h ON h.counter_id = c.id GROUP BY c.id
          HAVING c.held_tokens <> COALESCE(SUM(h.tokens), 0) OR c.held_micro_usd <> COALESCE(SUM(h.micro_usd), 0)`,
  },
  {
    name: 'quota_holds_only_on_held_requests',
    severity: 'error',
    detail: 'a quota hold is still open on a request that is no longer held (or does not exist)',
    sql: `SELECT h.request_id || '/' || h.counter_id, COALESCE(r.status, 'no row')
          FROM quota_holds h LEFT JOIN requests r ON r.id = h.request_id WHERE r.status IS DISTINCT FROM 'held'`,
  },
  {
    name: 'holds_only_on_held_requests',
    severity: 'error',
    detail: 'a hold is still open on a request that is no longer held (or does not exist)',
    sql: `SELECT h.request_id || '/' || h.grant_id, COALESCE(r.status, 'no row')
          FROM holds h LEFT JOIN requests r ON r.id = h.request_id WHERE r.status IS DISTINCT FROM 'held'`,
  },
  {
    name: 'debits_only_on_charged_requests',
    severity: 'error',
    detail: 'a debit belongs to a request that was not settled or interrupted (or does not exist)',
    sql: `SELECT d.request_id || '/' || d.grant_id, COALESCE(r.status, 'no row')
          FROM debits d LEFT JOIN requests r ON r.id = d.request_id WHERE r.status IS NULL OR r.status NOT IN ('settled', 'interrupted')`,
  },
  {
    name: 'debits_match_charge',
    severity: 'error',
    detail:
      'a request charged in one unit has debits that do not add up to its charge (tokens: metered_tokens; micro_usd: cost_micro_usd)',
    sql: `SELECT r.id, MIN(d.unit) || ' debits=' || SUM(d.amount) || ' metered_tokens=' || r.metered_tokens || ' cost_micro_usd=' || r.cost_micro_usd
          FROM requests r JOIN debits d ON d.request_id = r.id GROUP BY r.id
          HAVING COUNT(DISTINCT d.unit) = 1 AND SUM(d.amount) <> CASE MIN(d.unit) WHEN 'tokens' THEN r.metered_tokens ELSE r.cost_micro_usd END`,
  },
  {
    name: 'charged_requests_have_debits',
    severity: 'error',
    detail: 'a request was charged but no grant was debited',
    sql: `SELECT r.id, 'metered_tokens=' || r.metered_tokens FROM requests r
          WHERE r.status IN ('settled', 'interrupted') AND r.metered_tokens > 0 AND r.cost_micro_usd > 0
          AND NOT EXISTS (SELECT 1 FROM debits d WHERE d.request_id = r.id)`,
  },
  // A late settlement of a row a sweep resolved (`interrupted_at` set, status no longer interrupted)
  // burned after its hold had been released: it is not bounded by that hold.
  {
    name: 'overdraft_within_estimate_error',
    severity: 'error',
    detail: "a request's debits overdrew its grants by more than its charge beyond its hold (per unit)",
    sql: `SELECT r.id, 'overdraft=' || SUM(d.overdraft) || ' ' || d.unit
          FROM debits d JOIN requests r ON r.id = d.request_id GROUP BY r.id, d.unit, r.interrupted_at, r.status
          HAVING SUM(d.overdraft) > GREATEST(0, CASE d.unit WHEN 'tokens' THEN r.metered_tokens - r.hold_tokens ELSE r.cost_micro_usd - r.hold_micro_usd END)
             AND NOT (r.interrupted_at IS NOT NULL AND r.status <> 'interrupted')`,
  },
  // '/v1/realtime' is REALTIME_ENDPOINT (src/realtime/lease.ts): a session's response that could no longer be held is charged on a row without a hold.
  {
    name: 'overdraft_without_hold',
    severity: 'error',
    detail:
      'a request that held nothing overdrew a grant: work billed outside admission (only a Realtime response cut off mid-session may)',
    sql: `SELECT r.id, 'overdraft=' || SUM(d.overdraft) || ' ' || d.unit || ' endpoint=' || r.endpoint
          FROM debits d JOIN requests r ON r.id = d.request_id
          WHERE r.hold_tokens = 0 AND r.hold_micro_usd = 0 AND r.endpoint <> '/v1/realtime'
          GROUP BY r.id, d.unit, r.endpoint HAVING SUM(d.overdraft) > 0`,
  },
  {
    name: 'grant_overdrawn',
    severity: 'warning',
    detail:
      "a grant has spent more than its amount: by recorded overdrafts (each within its request's charge beyond its hold), or because an admin lowered the amount after use",
    sql: `SELECT g.id, 'amount=' || g.amount || ' spent=' || g.spent || ' overdrafts=' || (COALESCE(SUM(d.overdraft), 0) + COALESCE(MAX(a.overdraft), 0))
          FROM grants g LEFT JOIN debits d ON d.grant_id = g.id LEFT JOIN debits_archived a ON a.grant_id = g.id
          WHERE NOT g.unlimited GROUP BY g.id HAVING g.spent > g.amount`,
  },
  {
    name: 'held_requests_have_holds',
    severity: 'error',
    detail: 'a held, billable request has no hold',
    sql: `SELECT r.id, 'hold_tokens=' || r.hold_tokens FROM requests r
          WHERE r.status = 'held' AND r.hold_tokens > 0 AND r.hold_grant_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.request_id = r.id)`,
  },
  {
    name: 'hold_on_row_or_in_holds',
    severity: 'error',
    detail: 'a request holds a grant both on its row and in holds (a hold is in one place)',
    sql: `SELECT r.id, 'hold_grant_id=' || r.hold_grant_id FROM requests r
          WHERE r.hold_grant_id IS NOT NULL AND EXISTS (SELECT 1 FROM holds h WHERE h.request_id = r.id)`,
  },
  {
    name: 'integers_and_signs',
    severity: 'error',
    detail: 'a token or money column is not a non-negative integer',
    sql: `SELECT id, 'tokens/cost columns' FROM requests WHERE
          input_tokens < 0 OR output_tokens < 0 OR total_tokens < 0 OR metered_tokens < 0 OR cost_micro_usd < 0 OR hold_tokens < 0
          UNION ALL SELECT request_id || '/' || grant_id, 'debit amount' FROM debits WHERE amount < 0 OR overdraft < 0
          UNION ALL SELECT id, 'grant totals' FROM grants WHERE held < 0 OR spent < 0`,
  },
  {
    name: 'cost_units_agree',
    severity: 'error',
    detail: "a row's micro-USD cost is not its nano-USD cost rounded half up",
    sql: `SELECT id, 'cost_micro_usd=' || cost_micro_usd || ' cost_nano_usd=' || cost_nano_usd FROM requests
          WHERE cost_nano_usd < 0 OR cost_micro_usd <> (cost_nano_usd + 500) / 1000`,
  },
  {
    name: 'statuses_known',
    severity: 'error',
    detail: 'a request has an unknown status',
    sql: `SELECT id, status FROM requests WHERE status NOT IN ('held', 'settled', 'voided', 'interrupted')`,
  },
  {
    name: 'open_holds',
    severity: 'warning',
    detail: 'requests still held: in flight, or left by a crash and resolved by the next start or a surviving replica',
    sql: `SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM requests WHERE status = 'held' AND id NOT IN (SELECT request_id FROM deferred_objects)`,
  },
  ...rollupChecks({
    hourOf: FOLD.hourOf,
    latencyUs: LATENCY_US,
    folded: `r.settle_xid < ${FOLDED}`,
    dayOfHour: "(h.hour AT TIME ZONE 'UTC')::date",
    monthOfDay: "date_trunc('month', h.day)::date",
    cut: "coalesce((SELECT max(before) FROM archives), 'epoch'::timestamptz)",
    text: (e) => `(${e})::text`,
  }),
];

/** Every check in one statement (one round trip): `(check index, row, info)`, in check order. */
const ALL = CHECKS.map((c, i) => `SELECT ${i} AS n, q.* FROM (${c.sql}) AS q(row, info)`).join('\nUNION ALL\n');

/**
 * Checks every ledger invariant on a Postgres ledger and returns the findings (empty when sound).
 * Each finding names up to 20 offending rows in `detail`.
 */
export async function verifyPg(pool: Queryable): Promise<Finding[]> {
  const { rows } = await pool.query<{ n: number; row: string; info: string }>(`SELECT * FROM (${ALL}) AS f ORDER BY n`);
  const findings: Finding[] = [];
  CHECKS.forEach((check, i) => {
    const mine = rows.filter((r) => r.n === i);
    if (mine.length === 0) return;
    const shown = mine.slice(0, 20);
    findings.push({
      check: check.name,
      severity: check.severity,
      rows: mine.map((r) => r.row),
      detail: `${check.detail} (${mine.length}): ${shown.map((r) => `${r.row} [${r.info}]`).join(', ')}${mine.length > shown.length ? ', …' : ''}`,
    });
  });
  return findings;
}
