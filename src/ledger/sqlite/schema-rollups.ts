import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The ledger's rollups and archive bookkeeping (SQLite). Rollups sum the finished rows of
 * `requests` per UTC hour and per UTC day and per dimension (company, user, key, requested model,
 * endpoint, feature): `usage_hours`/`usage_days` keep every dimension, `*_summary` all but the user,
 * `*_companies` the company alone, `*_totals` the company, model and endpoint, `*_users` the company and user, and `usage_months_*` the totals and users per UTC calendar month (see `ROLLUP_TABLES` in src/ledger/rollups/dimensions.ts). They are folded in from settled rows
 * by a background job a few seconds behind the writes (see src/ledger/sqlite/fold.ts), kept for
 * ever (archiving raw rows never touches them), and checked against the raw rows they cover by
 * `ledger verify`. A dimension a row lacks (a request without a user) is '' here, NULL in
 * `requests`. Every rollup table is WITHOUT ROWID in the migration (clustered by its primary key);
 * drizzle does not model that, so a migration that rebuilds one must keep it.
 *
 * Adding a dimension (spend tags, end users) is one column in the detail tables (and the summary
 * ones unless it has many values), added to their primary keys, and one entry in
 * `ROLLUP_DIMENSIONS` (src/ledger/rollups/dimensions.ts).
 */

const dim = (name: string) => text(name).notNull().default('');
const sum = (name: string) => integer(name).notNull().default(0);

/** What each rollup row sums, in the units of `requests` (tokens, nano-USD; latency in whole µs). */
const measures = {
  /** Finished requests (settled, voided, interrupted). */
  requests: sum('requests'),
  /** Those with HTTP status ≥ 400, or voided. */
  errors: sum('errors'),
  inputTokens: sum('input_tokens'),
  cachedInputTokens: sum('cached_input_tokens'),
  outputTokens: sum('output_tokens'),
  reasoningTokens: sum('reasoning_tokens'),
  totalTokens: sum('total_tokens'),
  meteredTokens: sum('metered_tokens'),
  /** Exact cost, nano-USD (1 USD = 1e9). */
  costNanoUsd: sum('cost_nano_usd'),
  /** Σ latency of the rows that have one, each rounded to whole microseconds. */
  latencyUs: sum('latency_us'),
  /** Rows with a latency (the mean is latency_us / latency_count). */
  latencyCount: sum('latency_count'),
};

const dimensions = {
  companyId: dim('company_id'),
  userId: dim('user_id'),
  keyId: dim('key_id'),
  /** The model as the caller asked for it (`requests.requested_model`). */
  model: dim('model'),
  endpoint: dim('endpoint'),
  feature: dim('feature'),
};

/**
 * Usage per UTC hour (`hour` = `2026-11-24T10:00:00.000Z`, the hour's first instant) × every
 * dimension. Indexed by company and user too, for one user's reports.
 */
export const usageHours = sqliteTable(
  'usage_hours',
  { hour: text('hour').notNull(), ...dimensions, ...measures },
  (t) => [
    primaryKey({ columns: [t.companyId, t.hour, t.userId, t.keyId, t.model, t.endpoint, t.feature] }),
    index('usage_hours_user').on(t.companyId, t.userId, t.hour),
  ],
);

/** Usage per UTC day (`day` = `2026-11-24`) × every dimension: Σ of that day's `usage_hours`. */
export const usageDays = sqliteTable('usage_days', { day: text('day').notNull(), ...dimensions, ...measures }, (t) => [
  primaryKey({ columns: [t.companyId, t.day, t.userId, t.keyId, t.model, t.endpoint, t.feature] }),
  index('usage_days_user').on(t.companyId, t.userId, t.day),
]);

const { userId: _user, ...summary } = dimensions;

/** Usage per UTC hour × every dimension but the user: what most reports read (far fewer rows). */
export const usageHoursSummary = sqliteTable(
  'usage_hours_summary',
  { hour: text('hour').notNull(), ...summary, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.hour, t.keyId, t.model, t.endpoint, t.feature] })],
);

/** Usage per UTC day × every dimension but the user. */
export const usageDaysSummary = sqliteTable(
  'usage_days_summary',
  { day: text('day').notNull(), ...summary, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.day, t.keyId, t.model, t.endpoint, t.feature] })],
);

/** Usage per UTC hour × company: totals, by day or hour, by company. */
export const usageHoursCompanies = sqliteTable(
  'usage_hours_companies',
  { hour: text('hour').notNull(), companyId: dimensions.companyId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.hour] })],
);

/** Usage per UTC day × company. */
export const usageDaysCompanies = sqliteTable(
  'usage_days_companies',
  { day: text('day').notNull(), companyId: dimensions.companyId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.day] })],
);

/** Usage per UTC hour × company × model × endpoint: reports by model or endpoint. */
export const usageHoursTotals = sqliteTable(
  'usage_hours_totals',
  {
    hour: text('hour').notNull(),
    companyId: dimensions.companyId,
    model: dimensions.model,
    endpoint: dimensions.endpoint,
    ...measures,
  },
  (t) => [primaryKey({ columns: [t.companyId, t.hour, t.model, t.endpoint] })],
);

/** Usage per UTC day × company × model × endpoint. */
export const usageDaysTotals = sqliteTable(
  'usage_days_totals',
  {
    day: text('day').notNull(),
    companyId: dimensions.companyId,
    model: dimensions.model,
    endpoint: dimensions.endpoint,
    ...measures,
  },
  (t) => [primaryKey({ columns: [t.companyId, t.day, t.model, t.endpoint] })],
);

/** Usage per UTC hour × company × user: reports by user. */
export const usageHoursUsers = sqliteTable(
  'usage_hours_users',
  { hour: text('hour').notNull(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [
    primaryKey({ columns: [t.companyId, t.hour, t.userId] }),
    index('usage_hours_users_user').on(t.companyId, t.userId, t.hour),
  ],
);

/** Usage per UTC day × company × user. */
export const usageDaysUsers = sqliteTable(
  'usage_days_users',
  { day: text('day').notNull(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [
    primaryKey({ columns: [t.companyId, t.day, t.userId] }),
    index('usage_days_users_user').on(t.companyId, t.userId, t.day),
  ],
);

/**
 * Usage per UTC calendar month (`month` = `2026-11`) × company × model × endpoint: Σ of the month's
 * `usage_days_totals`, so that a 90-day report by model reads about 3 rows per model and endpoint
 * and the days of the partial months at the window's edges, not 90.
 */
export const usageMonthsTotals = sqliteTable(
  'usage_months_totals',
  {
    month: text('month').notNull(),
    companyId: dimensions.companyId,
    model: dimensions.model,
    endpoint: dimensions.endpoint,
    ...measures,
  },
  (t) => [primaryKey({ columns: [t.companyId, t.month, t.model, t.endpoint] })],
);

/** Usage per UTC calendar month × company × user: Σ of the month's `usage_days_users` (reports by user). */
export const usageMonthsUsers = sqliteTable(
  'usage_months_users',
  { month: text('month').notNull(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.month, t.userId] })],
);

/**
 * Where folding stands (one row, id 1): every finished row with `settle_seq` ≤ `folded_seq` is in
 * the rollups; rows above it, or finished with no `settle_seq` yet, are not (reports read those raw).
 */
export const rollupState = sqliteTable('rollup_state', {
  id: integer('id').primaryKey(),
  foldedSeq: integer('folded_seq').notNull().default(0),
  /** When the last fold committed (ISO 8601 UTC). */
  foldedAt: text('folded_at'),
  /** Rows folded so far, all folds together. */
  foldedRows: integer('folded_rows').notNull().default(0),
});

/**
 * One row per `tollgate ledger archive` run (or daily retention run): raw rows admitted before
 * `before` written to `file`, then deleted. The totals are those of the requests it removed (the
 * rollup measures), so `ledger verify` can still check the rollups of the hours it emptied.
 */
export const archives = sqliteTable('archives', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  /** Rows admitted before this instant (ISO 8601 UTC) were archived. */
  before: text('before').notNull(),
  file: text('file').notNull(),
  startedAt: text('started_at').notNull(),
  /** Set once every archived row is deleted; NULL while deleting (or if the run stopped midway). */
  finishedAt: text('finished_at'),
  debits: sum('debits'),
  ...measures,
});

/**
 * What archived debits burned from each grant (grant's unit), so that `grants.spent` still equals
 * Σ `debits.amount` + `amount` here once old debits are archived.
 */
export const debitsArchived = sqliteTable('debits_archived', {
  grantId: text('grant_id').primaryKey(),
  amount: sum('amount'),
  overdraft: sum('overdraft'),
  debits: sum('debits'),
});
