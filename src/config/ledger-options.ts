import { z } from 'zod';

/**
 * The config's `ledger.reports`: how reports (the read API, the dashboard) read the ledger while
 * tollgate serves. Each read has a time budget; past it the read API answers 503 `report_timeout`
 * (retry-after 1) and the proxy never waits on it. On SQLite reads run on their own threads
 * (`threads`, each with a read-only connection); on Postgres on connections of their own
 * (`threads` of them, each statement bounded by `statement_timeout`).
 */
export const ledgerReports = z
  .object({
    /** Each read's budget, ms (default 5,000). */
    timeoutMs: z.number().int().min(10).max(600_000).default(5_000),
    /** Read threads (SQLite) or connections (Postgres) for reports (default 2). */
    threads: z.number().int().min(1).max(32).default(2),
  })
  .strict();

/**
 * The config's `ledger.retention`: raw request rows (and their debits) older than `rawDays` days are
 * written to a gzip'd NDJSON archive in `archiveDir` (one file per run, named by its cut-off date),
 * then deleted in small batches, once at start and daily after. Rollups (usage per hour and day)
 * are kept for ever, so reports over any period still answer; only the request log and exports lose
 * the archived rows. Held rows and deferred work not settled yet are never archived.
 */
export const ledgerRetention = z
  .object({
    /** Days of raw rows kept (whole UTC days before today's). */
    rawDays: z.number().int().min(1).max(36_500),
    /** Where archive files go (created if missing; default `./data/archive`). */
    archiveDir: z.string().min(1).default('./data/archive'),
  })
  .strict();

/** The `ledger` section once parsed: exactly one of `path` (SQLite) or `url` (Postgres), and the options. */
export type LedgerSection = ({ path: string; url?: undefined } | { url: string; path?: undefined }) & {
  lapseMs?: number;
  reports?: z.output<typeof ledgerReports>;
  retention?: z.output<typeof ledgerRetention>;
};
