import type Database from 'better-sqlite3';
import { rollupChecks } from '../rollups/verify-sql.js';
import { ROLLUP_TABLES } from '../rollups/dimensions.js';
import { FOLD, FOLDED, LATENCY_US } from './rollup-sql.js';

/** One broken invariant: which check, which rows, and what was found. */
export interface Finding {
  check: string;
  /** `error` breaks an invariant; `warning` is legal but needs attention (open holds of a stopped proxy). */
  severity: 'error' | 'warning';
  /** The offending rows: request ids, grant ids, or `request/grant` pairs. */
  rows: string[];
  detail: string;
}

interface Check {
  name: string;
  severity: Finding['severity'];
  detail: string;
  /** A query returning one row per offence, with columns `row` (the id to name) and `info`. */
  sql: string;
}

const ISO_UTC = "'[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9]Z'";

/**
 * Every open hold, one row per request and grant (`grant_id`, `amount` in the grant's unit): the
 * `holds` rows of holds spread over several grants, and the hold a `held` request keeps on its row.
 */
const ALL_HOLDS = `SELECT grant_id, amount FROM holds
  UNION ALL SELECT hold_grant_id, hold_amount FROM requests WHERE status = 'held' AND hold_grant_id IS NOT NULL`;

/**
 * The ledger's invariants as SQL (see docs/ledger.md). Each query names the rows that break
 * one. Running totals are checked against the rows they summarise, holds and debits against the
 * status of their request, overdrafts against the request's use beyond its hold.
 */
const CHECKS: Check[] = [
  {
    name: 'grant_held_matches_holds',
    severity: 'error',
    detail: 'grants.held differs from the sum of its open holds',
    sql: `WITH h AS (${ALL_HOLDS})
          SELECT g.id AS row, 'held=' || g.held || ' holds=' || COALESCE(SUM(h.amount), 0) AS info
          FROM grants g LEFT JOIN h ON h.grant_id = g.id GROUP BY g.id HAVING g.held != COALESCE(SUM(h.amount), 0)`,
  },
  {
    name: 'grant_spent_matches_debits',
    severity: 'error',
    detail: 'grants.spent differs from the sum of its debits (those archived included)',
    sql: `SELECT g.id AS row, 'spent=' || g.spent || ' debits=' || (COALESCE(SUM(d.amount), 0) + COALESCE(MAX(a.amount), 0)) AS info
          FROM grants g LEFT JOIN debits d ON d.grant_id = g.id LEFT JOIN debits_archived a ON a.grant_id = g.id
          GROUP BY g.id HAVING g.spent != COALESCE(SUM(d.amount), 0) + COALESCE(MAX(a.amount), 0)`,
  },
  {
    name: 'quota_held_matches_holds',
    severity: 'error',
    detail: 'quota_counters.held_tokens / held_micro_usd differ from the sum of its open quota holds',
    sql: `SELECT c.id AS row, 'held=' || c.held_tokens || '/' || c.held_micro_usd || ' holds=' || COALESCE(SUM(h.tokens), 0) || '/' || COALESCE(SUM(h.micro_usd), 0) AS info
          FROM quota_counters c LEFT JOIN quota_holds h ON h.counter_id = c.id GROUP BY c.id
          HAVING c.held_tokens != COALESCE(SUM(h.tokens), 0) OR c.held_micro_usd != COALESCE(SUM(h.micro_usd), 0)`,
  },
  {
    name: 'quota_holds_only_on_held_requests',
    severity: 'error',
    detail: 'a quota hold is still open on a request that is no longer held (or does not exist)',
    sql: `SELECT h.request_id || '/' || h.counter_id AS row, COALESCE(r.status, 'no row') AS info
          FROM quota_holds h LEFT JOIN requests r ON r.id = h.request_id WHERE r.status IS NOT 'held'`,
  },
  {
    name: 'holds_only_on_held_requests',
    severity: 'error',
    detail: 'a hold is still open on a request that is no longer held (or does not exist)',
    sql: `SELECT h.request_id || '/' || h.grant_id AS row, COALESCE(r.status, 'no row') AS info
          FROM holds h LEFT JOIN requests r ON r.id = h.request_id WHERE r.status IS NOT 'held'`,
  },
  {
    name: 'debits_only_on_charged_requests',
    severity: 'error',
    detail: 'a debit belongs to a request that was not settled or interrupted (or does not exist)',
    sql: `SELECT d.request_id || '/' || d.grant_id AS row, COALESCE(r.status, 'no row') AS info
          FROM debits d LEFT JOIN requests r ON r.id = d.request_id WHERE r.status IS NULL OR r.status NOT IN ('settled', 'interrupted')`,
  },
  {
    name: 'debits_match_charge',
    severity: 'error',
    detail:
      'a request charged in one unit has debits that do not add up to its charge (tokens: metered_tokens; micro_usd: cost_micro_usd)',
    sql: `SELECT r.id AS row, MIN(d.unit) || ' debits=' || SUM(d.amount) || ' metered_tokens=' || r.metered_tokens || ' cost_micro_usd=' || r.cost_micro_usd AS info
          FROM requests r JOIN debits d ON d.request_id = r.id GROUP BY r.id
          HAVING COUNT(DISTINCT d.unit) = 1 AND SUM(d.amount) != CASE MIN(d.unit) WHEN 'tokens' THEN r.metered_tokens ELSE r.cost_micro_usd END`,
  },
  {
    name: 'charged_requests_have_debits',
    severity: 'error',
    detail: 'a request was charged but no grant was debited',
    sql: `SELECT r.id AS row, 'metered_tokens=' || r.metered_tokens AS info FROM requests r
          WHERE r.status IN ('settled', 'interrupted') AND r.metered_tokens > 0 AND r.cost_micro_usd > 0
          AND NOT EXISTS (SELECT 1 FROM debits d WHERE d.request_id = r.id)`,
  },
  {
    name: 'overdraft_within_estimate_error',
    severity: 'error',
    detail: "a request's debits overdrew its grants by more than its charge beyond its hold (per unit)",
    sql: `SELECT r.id AS row, 'overdraft=' || SUM(d.overdraft) || ' ' || d.unit AS info
          FROM debits d JOIN requests r ON r.id = d.request_id GROUP BY r.id, d.unit
          HAVING SUM(d.overdraft) > MAX(0, CASE d.unit WHEN 'tokens' THEN r.metered_tokens - r.hold_tokens ELSE r.cost_micro_usd - r.hold_micro_usd END)`,
  },
  // '/v1/realtime' is REALTIME_ENDPOINT (src/realtime/lease.ts): a session's response that could no longer be held is charged on a row without a hold.
  {
    name: 'overdraft_without_hold',
    severity: 'error',
    detail:
      'a request that held nothing overdrew a grant: work billed outside admission (only a Realtime response cut off mid-session may)',
    sql: `SELECT r.id AS row, 'overdraft=' || SUM(d.overdraft) || ' ' || d.unit || ' endpoint=' || r.endpoint AS info
          FROM debits d JOIN requests r ON r.id = d.request_id
          WHERE r.hold_tokens = 0 AND r.hold_micro_usd = 0 AND r.endpoint != '/v1/realtime'
          GROUP BY r.id, d.unit HAVING SUM(d.overdraft) > 0`,
  },
  {
    name: 'grant_overdrawn',
    severity: 'warning',
    detail:
      "a grant has spent more than its amount: by recorded overdrafts (each within its request's charge beyond its hold), or because an admin lowered the amount after use",
    sql: `SELECT g.id AS row, 'amount=' || g.amount || ' spent=' || g.spent || ' overdrafts=' || (COALESCE(SUM(d.overdraft), 0) + COALESCE(MAX(a.overdraft), 0)) AS info
          FROM grants g LEFT JOIN debits d ON d.grant_id = g.id LEFT JOIN debits_archived a ON a.grant_id = g.id
          WHERE NOT g.unlimited GROUP BY g.id HAVING g.spent > g.amount`,
  },
  {
    name: 'held_requests_have_holds',
    severity: 'error',
    detail: 'a held, billable request has no hold',
    sql: `SELECT r.id AS row, 'hold_tokens=' || r.hold_tokens AS info FROM requests r
          WHERE r.status = 'held' AND r.hold_tokens > 0 AND r.hold_grant_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.request_id = r.id)`,
  },
  {
    name: 'hold_on_row_or_in_holds',
    severity: 'error',
    detail: 'a request holds a grant both on its row and in holds (a hold is in one place)',
    sql: `SELECT r.id AS row, 'hold_grant_id=' || r.hold_grant_id AS info FROM requests r
          WHERE r.hold_grant_id IS NOT NULL AND EXISTS (SELECT 1 FROM holds h WHERE h.request_id = r.id)`,
  },
  {
    name: 'integers_and_signs',
    severity: 'error',
    detail: 'a token or money column is not a non-negative integer',
    sql: `SELECT id AS row, 'tokens/cost columns' AS info FROM requests WHERE
          typeof(input_tokens) != 'integer' OR typeof(output_tokens) != 'integer' OR typeof(total_tokens) != 'integer' OR
          typeof(cached_input_tokens) != 'integer' OR typeof(reasoning_tokens) != 'integer' OR typeof(metered_tokens) != 'integer' OR
          typeof(cost_micro_usd) != 'integer' OR typeof(hold_tokens) != 'integer' OR typeof(hold_micro_usd) != 'integer' OR
          input_tokens < 0 OR output_tokens < 0 OR total_tokens < 0 OR metered_tokens < 0 OR cost_micro_usd < 0 OR hold_tokens < 0
          UNION ALL SELECT request_id || '/' || grant_id, 'debit amount' FROM debits WHERE typeof(amount) != 'integer' OR amount < 0 OR typeof(overdraft) != 'integer' OR overdraft < 0
          UNION ALL SELECT id, 'grant totals' FROM grants WHERE typeof(spent) != 'integer' OR typeof(held) != 'integer' OR held < 0 OR spent < 0`,
  },
  {
    name: 'cost_units_agree',
    severity: 'error',
    detail: "a row's micro-USD cost is not its nano-USD cost rounded half up",
    sql: `SELECT id AS row, 'cost_micro_usd=' || cost_micro_usd || ' cost_nano_usd=' || cost_nano_usd AS info FROM requests
          WHERE typeof(cost_nano_usd) != 'integer' OR cost_nano_usd < 0 OR cost_micro_usd != (cost_nano_usd + 500) / 1000`,
  },
  {
    name: 'times_are_utc',
    severity: 'error',
    detail: 'a time is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SS.sssZ)',
    sql: `SELECT id AS row, created_at AS info FROM requests WHERE created_at NOT GLOB ${ISO_UTC} OR (settled_at IS NOT NULL AND settled_at NOT GLOB ${ISO_UTC})
          UNION ALL SELECT request_id || '/' || grant_id, created_at FROM debits WHERE created_at NOT GLOB ${ISO_UTC}`,
  },
  {
    name: 'statuses_known',
    severity: 'error',
    detail: 'a request has an unknown status',
    sql: `SELECT id AS row, status AS info FROM requests WHERE status NOT IN ('held', 'settled', 'voided', 'interrupted')`,
  },
  {
    name: 'open_holds',
    severity: 'warning',
    detail:
      "requests still held: in flight, or left by a crash and resolved at the next start (rows deferred on upstream work are the settler's, not counted)",
    sql: `SELECT id AS row, created_at AS info FROM requests WHERE status = 'held' AND id NOT IN (SELECT request_id FROM deferred_objects)`,
  },
];

/** The rollup checks (see rollups/verify-sql.ts), run when anything was folded or archived. */
const ROLLUP_CHECKS: Check[] = [
  ...rollupChecks({
    hourOf: FOLD.hourOf,
    latencyUs: LATENCY_US,
    folded: `r.settle_seq <= ${FOLDED}`,
    dayOfHour: 'substr(h.hour, 1, 10)',
    monthOfDay: 'substr(h.day, 1, 7)',
    cut: "coalesce((SELECT max(before) FROM archives), '')",
    text: (e) => `CAST(${e} AS TEXT)`,
  }),
];

/**
 * True when nothing was folded or archived and every rollup table is empty: the rollup checks can
 * then find nothing (no row is folded, no bucket exists), so they are skipped (a test verifies after
 * every step of hundreds of fresh ledgers).
 */
const UNTOUCHED = `SELECT ${FOLDED} = 0 AND NOT EXISTS (SELECT 1 FROM archives) AND ${ROLLUP_TABLES.map(
  (t) => `NOT EXISTS (SELECT 1 FROM ${t.table})`,
).join(' AND ')} AS untouched`;

/** The checks prepared once per connection (a test verifies after every step). */
const prepared = new WeakMap<
  Database.Database,
  { base: Database.Statement[]; rollups?: Database.Statement[]; untouched: Database.Statement }
>();

/**
 * Checks every ledger invariant on an open database (read-only is enough) and returns the
 * findings, empty when the ledger is sound. Each finding names up to 20 offending rows (with what
 * was found in `detail`).
 */
export function verifyLedger(db: Database.Database): Finding[] {
  const findings: Finding[] = [];
  let s = prepared.get(db);
  if (!s)
    prepared.set(
      db,
      (s = {
        base: CHECKS.map((c) => db.prepare(c.sql)),
        untouched: db.prepare(UNTOUCHED),
      }),
    );
  const untouched = (s.untouched.get() as { untouched: number }).untouched === 1;
  const checks = untouched ? CHECKS : [...CHECKS, ...ROLLUP_CHECKS];
  if (!untouched) s.rollups ??= ROLLUP_CHECKS.map((c) => db.prepare(c.sql));
  const statements = untouched ? s.base : [...s.base, ...s.rollups!];
  for (const [i, check] of checks.entries()) {
    const rows = statements[i]!.all() as { row: string; info: string }[];
    if (rows.length === 0) continue;
    const shown = rows.slice(0, 20);
    findings.push({
      check: check.name,
      severity: check.severity,
      rows: rows.map((r) => r.row),
      detail: `${check.detail} (${rows.length}): ${shown.map((r) => `${r.row} [${r.info}]`).join(', ')}${rows.length > shown.length ? ', …' : ''}`,
    });
  }
  return findings;
}
