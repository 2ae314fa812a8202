import type { LedgerTimeouts } from './ledger-schema.js';
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
    timeoutMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(5_000)
      .meta({
        description:
          'How long one read of a report may take (default 5,000). Past it the read API answers 503 `report_timeout` with `retry-after`; proxied requests never wait on reports.',
        unit: 'ms',
        examples: [5000],
      }),
    threads: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(2)
      .meta({
        description:
          'Reads that run at once (default 2): threads with a read-only connection each on SQLite, connections of their own on Postgres. More queue behind them within their budget.',
        examples: [2],
      }),
  })
  .strict()
  .meta({ description: 'How reports read the ledger while tollgate serves. Read at start only.' });

/**
 * The config's `ledger.retention`: raw request rows (and their debits) older than `rawDays` days are
 * written to a gzip'd NDJSON archive in `archiveDir` (one file per run, named by its cut-off date),
 * then deleted in small batches, a minute after start and daily after. Rollups (usage per hour and
 * day) are kept for ever, so reports over any period still answer; only the request log and
 * exports lose the archived rows. Held rows and deferred work not settled yet are never archived.
 */
export const ledgerRetention = z
  .object({
    rawDays: z
      .number()
      .int()
      .min(1)
      .max(36_500)
      .meta({
        description:
          "Whole UTC days of raw request rows kept before today's; older ones are archived to `archiveDir` and deleted (usage rollups stay).",
        unit: 'days',
        examples: [90],
      }),
    archiveDir: z
      .string()
      .min(1)
      .default('./data/archive')
      .meta({
        description:
          'Where the archive files go (created if missing): `tollgate-requests-before-<date>.ndjson.gz`, gzip NDJSON (see docs/retention.md).',
        examples: ['./data/archive'],
      }),
  })
  .strict()
  .meta({
    description: 'Archive and delete old raw rows daily (off by default: every row is kept). Read at start only.',
  });

/** The `ledger` section once parsed: exactly one of `path` (SQLite) or `url` (Postgres), and the options. */
export type LedgerSection = ({ path: string; url?: undefined } | { url: string; path?: undefined }) & {
  lapseMs?: number;
  timeouts: LedgerTimeouts;
  spool: { dir?: string; maxEntries: number };
  reports?: z.output<typeof ledgerReports>;
  retention?: z.output<typeof ledgerRetention>;
};
