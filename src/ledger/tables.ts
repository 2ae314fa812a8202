/**
 * The ledger's tables in copy order (a row's references come before it), the same in every
 * engine: what `ledger copy` exports from one adapter and imports into another.
 */
export const LEDGER_TABLES = [
  'purchases',
  'grants',
  'requests',
  'holds',
  'debits',
  'quota_counters',
  'quota_holds',
  'billed_objects',
  'alerts',
  'quota_requests',
  'objects',
  'file_estimates',
  'deferred_objects',
  'reconciliations',
] as const;
