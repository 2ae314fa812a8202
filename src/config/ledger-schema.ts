import { z } from 'zod';

/**
 * The ledger's bounded waits (ms), for both engines: every wait on the ledger ends, and a ledger
 * that cannot answer in time is answered 503 with `retry-after` (src/ledger/unavailable.ts).
 */
export interface LedgerTimeouts {
  /** Postgres: opening a connection, TCP and start-up handshake. */
  connectMs: number;
  /** Postgres: the server's `statement_timeout`, and how long the driver waits for any answer. */
  statementMs: number;
  /** Postgres: the server's `idle_in_transaction_session_timeout` (a transaction left open by a stalled process). */
  idleInTransactionMs: number;
  /** A request's budget for admission (its row durable, with its hold): past it, 503 and nothing forwarded. */
  admitMs: number;
  /** How long a settlement may take before it is kept in the local spool and written later. */
  settleMs: number;
  /** `/readyz`'s own deadline for the ledger's answer. */
  readyMs: number;
}

/** The defaults of `ledger.timeouts` (ms). */
export const LEDGER_TIMEOUTS: LedgerTimeouts = {
  connectMs: 5_000,
  statementMs: 10_000,
  idleInTransactionMs: 30_000,
  admitMs: 5_000,
  settleMs: 5_000,
  readyMs: 1_000,
};

const ms = (fallback: number, description: string) =>
  z
    .number()
    .int()
    .min(50)
    .max(600_000)
    .default(fallback)
    .meta({ description, unit: 'ms', examples: [fallback] });

/** `ledger.timeouts`: see `LedgerTimeouts`. */
export const ledgerTimeoutsSchema = z
  .object({
    connectMs: ms(
      LEDGER_TIMEOUTS.connectMs,
      'Postgres: opening a connection (TCP and handshake), or waiting for a free one of the pool.',
    ),
    statementMs: ms(
      LEDGER_TIMEOUTS.statementMs,
      "Postgres: the server's `statement_timeout`, and how long the driver waits for any answer.",
    ),
    idleInTransactionMs: ms(
      LEDGER_TIMEOUTS.idleInTransactionMs,
      "Postgres: the server's `idle_in_transaction_session_timeout`.",
    ),
    admitMs: ms(
      LEDGER_TIMEOUTS.admitMs,
      "A request's budget for admission: past it, or when the ledger fails, the request is answered 503 with `retry-after` and never forwarded.",
    ),
    settleMs: ms(
      LEDGER_TIMEOUTS.settleMs,
      'How long a settlement may take before it is kept in the local spool and written once the ledger answers.',
    ),
    readyMs: ms(LEDGER_TIMEOUTS.readyMs, "`/readyz`'s own deadline for the ledger's answer."),
  })
  .strict()
  .default(LEDGER_TIMEOUTS)
  .meta({ description: 'Bounded waits on the ledger (both engines). Read at start only.' });

/** The default bound on settlements kept in the spool while the ledger is unreachable. */
export const LEDGER_SPOOL_MAX = 10_000;

/**
 * `ledger.spool`: where settlements are kept while the ledger cannot take them (`dir`, default
 * `spool/` beside a SQLite file, `./data/spool` for Postgres; one file per process), and how many
 * may wait (`maxEntries`): past it, new requests are answered 503 until the ledger catches up.
 */
export const ledgerSpoolSchema = z
  .object({
    dir: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          "Folder of the spool files, relative to the config file's folder (default `spool/` beside a SQLite ledger, `./data/spool` for Postgres). Keep it on a disk that outlives the process.",
        examples: ['./data/spool'],
      }),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(LEDGER_SPOOL_MAX)
      .meta({
        description:
          'Settlements that may wait in the spool; past it, new requests are answered 503 until the ledger catches up.',
        examples: [LEDGER_SPOOL_MAX],
      }),
  })
  .strict()
  .default({ maxEntries: LEDGER_SPOOL_MAX })
  .meta({
    description:
      'Where settlements wait while the ledger cannot take them (one fsynced file per process, written at the next start if need be).',
  });
