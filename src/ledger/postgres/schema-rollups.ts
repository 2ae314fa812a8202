import { bigint, customType, date, index, pgTable, primaryKey, serial, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The ledger's rollups and archive bookkeeping on Postgres: the same tables as the SQLite ledger's
 * (src/ledger/sqlite/schema-rollups.ts documents each), with `hour` a `timestamptz` and `day` a
 * `date` (UTC), `month` the `date` of the month's first day (UTC). Rows are folded in by whichever replica holds the fold lock (src/ledger/postgres/fold.ts)
 * in the order of the transaction that finished them (`requests.settle_xid`).
 *
 * Every hour and day table has an index leading with its bucket beside its primary key (which leads
 * with the company): an operator's report over every company reads the hours and days at a
 * window's edges by it, where Postgres (before 18, no skip scan) would otherwise read the whole table.
 */

/** A 64-bit transaction id (`xid8`, Postgres 13+), read and written as its decimal text. */
export const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

const count = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0);
const dim = (name: string) => text(name).notNull().default('');

const measures = {
  requests: count('requests'),
  errors: count('errors'),
  inputTokens: count('input_tokens'),
  cachedInputTokens: count('cached_input_tokens'),
  outputTokens: count('output_tokens'),
  reasoningTokens: count('reasoning_tokens'),
  totalTokens: count('total_tokens'),
  meteredTokens: count('metered_tokens'),
  costNanoUsd: count('cost_nano_usd'),
  latencyUs: count('latency_us'),
  latencyCount: count('latency_count'),
};

const dimensions = {
  companyId: dim('company_id'),
  userId: dim('user_id'),
  keyId: dim('key_id'),
  model: dim('model'),
  endpoint: dim('endpoint'),
  feature: dim('feature'),
};

const hour = () => timestamp('hour', { withTimezone: true, mode: 'string', precision: 0 }).notNull();
const day = () => date('day', { mode: 'string' }).notNull();
const { userId: _user, ...summary } = dimensions;

export const usageHours = pgTable('usage_hours', { hour: hour(), ...dimensions, ...measures }, (t) => [
  primaryKey({ columns: [t.companyId, t.hour, t.userId, t.keyId, t.model, t.endpoint, t.feature] }),
  index('usage_hours_user').on(t.companyId, t.userId, t.hour),
  index('usage_hours_hour').on(t.hour),
]);

export const usageDays = pgTable('usage_days', { day: day(), ...dimensions, ...measures }, (t) => [
  primaryKey({ columns: [t.companyId, t.day, t.userId, t.keyId, t.model, t.endpoint, t.feature] }),
  index('usage_days_user').on(t.companyId, t.userId, t.day),
  index('usage_days_day').on(t.day),
]);

export const usageHoursSummary = pgTable('usage_hours_summary', { hour: hour(), ...summary, ...measures }, (t) => [
  primaryKey({ columns: [t.companyId, t.hour, t.keyId, t.model, t.endpoint, t.feature] }),
  index('usage_hours_summary_hour').on(t.hour),
]);

export const usageDaysSummary = pgTable('usage_days_summary', { day: day(), ...summary, ...measures }, (t) => [
  primaryKey({ columns: [t.companyId, t.day, t.keyId, t.model, t.endpoint, t.feature] }),
  index('usage_days_summary_day').on(t.day),
]);

export const usageHoursCompanies = pgTable(
  'usage_hours_companies',
  { hour: hour(), companyId: dimensions.companyId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.hour] }), index('usage_hours_companies_hour').on(t.hour)],
);

export const usageDaysCompanies = pgTable(
  'usage_days_companies',
  { day: day(), companyId: dimensions.companyId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.day] }), index('usage_days_companies_day').on(t.day)],
);

export const usageHoursTotals = pgTable(
  'usage_hours_totals',
  {
    hour: hour(),
    companyId: dimensions.companyId,
    model: dimensions.model,
    endpoint: dimensions.endpoint,
    ...measures,
  },
  (t) => [
    primaryKey({ columns: [t.companyId, t.hour, t.model, t.endpoint] }),
    index('usage_hours_totals_hour').on(t.hour),
  ],
);

export const usageDaysTotals = pgTable(
  'usage_days_totals',
  { day: day(), companyId: dimensions.companyId, model: dimensions.model, endpoint: dimensions.endpoint, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.day, t.model, t.endpoint] }), index('usage_days_totals_day').on(t.day)],
);

export const usageHoursUsers = pgTable(
  'usage_hours_users',
  { hour: hour(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [
    primaryKey({ columns: [t.companyId, t.hour, t.userId] }),
    index('usage_hours_users_user').on(t.companyId, t.userId, t.hour),
    index('usage_hours_users_hour').on(t.hour),
  ],
);

export const usageDaysUsers = pgTable(
  'usage_days_users',
  { day: day(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [
    primaryKey({ columns: [t.companyId, t.day, t.userId] }),
    index('usage_days_users_user').on(t.companyId, t.userId, t.day),
    index('usage_days_users_day').on(t.day),
  ],
);

/** A UTC calendar month, as the date of its first day (`2026-11-01`). */
const month = () => date('month', { mode: 'string' }).notNull();

export const usageMonthsTotals = pgTable(
  'usage_months_totals',
  {
    month: month(),
    companyId: dimensions.companyId,
    model: dimensions.model,
    endpoint: dimensions.endpoint,
    ...measures,
  },
  (t) => [primaryKey({ columns: [t.companyId, t.month, t.model, t.endpoint] })],
);

export const usageMonthsUsers = pgTable(
  'usage_months_users',
  { month: month(), companyId: dimensions.companyId, userId: dimensions.userId, ...measures },
  (t) => [primaryKey({ columns: [t.companyId, t.month, t.userId] })],
);

/** Every finished row whose `settle_xid` is below `folded_xid` is in the rollups (one row, id 1). */
export const rollupState = pgTable('rollup_state', {
  id: serial('id').primaryKey(),
  foldedXid: xid8('folded_xid').notNull().default('0'),
  foldedAt: timestamp('folded_at', { withTimezone: true, mode: 'string', precision: 3 }),
  foldedRows: count('folded_rows'),
});

export const archives = pgTable('archives', {
  id: serial('id').primaryKey(),
  before: timestamp('before', { withTimezone: true, mode: 'string', precision: 3 }).notNull(),
  file: text('file').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'string', precision: 3 }).notNull(),
  finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'string', precision: 3 }),
  debits: count('debits'),
  ...measures,
});

export const debitsArchived = pgTable('debits_archived', {
  grantId: text('grant_id').primaryKey(),
  amount: count('amount'),
  overdraft: count('overdraft'),
  debits: count('debits'),
});
