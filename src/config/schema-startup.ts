import { z } from 'zod';
import { ledgerReports, ledgerRetention, type LedgerSection } from './ledger-options.js';
import { LEDGER_SPOOL_MAX, LEDGER_TIMEOUTS, ledgerSpoolSchema, ledgerTimeoutsSchema } from './ledger-schema.js';

/** The parts of `proxy.config.json` read at start only: where tollgate listens, its upstream and its ledger. */

/** `listen`: host and port. */
export const listenSchema = z
  .object({
    host: z
      .string()
      .default('127.0.0.1')
      .meta({
        description: 'The address to listen on (`tollgate serve --host` overrides it); `0.0.0.0` is every interface.',
        examples: ['0.0.0.0'],
      }),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(8787)
      .meta({
        description: 'The TCP port (`tollgate serve --port` overrides it); 0 picks a free one.',
        examples: [8080],
      }),
  })
  .strict()
  .default({ host: '127.0.0.1', port: 8787 })
  .meta({ description: 'Where tollgate listens. Read at start only.' });

/** `upstream`: the OpenAI-compatible API, its key's env var, the connection pool and timeouts (ms). */
export const upstreamSchema = z
  .object({
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .default('https://api.openai.com')
      .meta({
        description:
          'The OpenAI-compatible API to forward to; a trailing `/v1` is fine. `serve --upstream` overrides it.',
        examples: ['http://127.0.0.1:9999'],
      }),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .default('OPENAI_API_KEY')
      .meta({
        description:
          "The env var holding the upstream API key, sent upstream in place of the caller's credential. tollgate does not start without it.",
        examples: ['OPENAI_API_KEY'],
      }),
    connections: z
      .number()
      .int()
      .positive()
      .default(128)
      .meta({
        description: 'Keep-alive connections pooled to the upstream.',
        unit: 'connections',
        examples: [256],
      }),
    timeouts: z
      .object({
        connectMs: z
          .number()
          .int()
          .nonnegative()
          .default(10_000)
          .meta({
            description: 'To open a connection. Past it: 504 `upstream_timeout`, the row voided.',
            unit: 'ms',
            examples: [5000],
          }),
        firstByteMs: z
          .number()
          .int()
          .nonnegative()
          .default(600_000)
          .meta({
            description:
              'From sending the request to the response headers. Past it: 504 `upstream_timeout`, the row voided.',
            unit: 'ms',
            examples: [120000],
          }),
        idleMs: z
          .number()
          .int()
          .nonnegative()
          .default(300_000)
          .meta({
            description:
              'Between two chunks of a response body (a stalled stream). Past it: the stream ends with an `upstream_timeout` error event.',
            unit: 'ms',
            examples: [60000],
          }),
      })
      .strict()
      .default({ connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 })
      .meta({ description: 'How long tollgate waits for the upstream; 0 disables a timeout.' }),
  })
  .strict()
  .default({
    baseUrl: 'https://api.openai.com',
    apiKeyEnv: 'OPENAI_API_KEY',
    connections: 128,
    timeouts: { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 },
  })
  .meta({ description: 'The upstream tollgate forwards to. Read at start only.' });

/**
 * `ledger`: a SQLite `path` or a Postgres `url` (exactly one; with neither, `$TOLLGATE_DATABASE_URL`
 * when set, else `./data/ledger.db`), and Postgres's heartbeat `lapseMs`.
 */
export const ledgerSchema = z
  .object({
    path: z
      .string()
      .min(1)
      .optional()
      .meta({
        description:
          "A SQLite file, relative to the config file's folder (default `./data/ledger.db`). One process writes it.",
        examples: ['./data/ledger.db'],
      }),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional()
      .meta({
        description:
          'A Postgres database, for several replicas or `serve --workers`. Tables are created and migrated at start.',
        examples: ['postgres://tollgate:secret@db.internal:5432/tollgate'],
      }),
    lapseMs: z
      .number()
      .int()
      .min(600)
      .optional()
      .meta({
        description:
          'Postgres: how long a replica may go without a heartbeat before another resolves its held rows (default 30,000; replicas heartbeat every sixth of it).',
        unit: 'ms',
        examples: [30000],
      }),
    timeouts: ledgerTimeoutsSchema,
    spool: ledgerSpoolSchema,
    reports: ledgerReports.optional(),
    retention: ledgerRetention.optional(),
  })
  .strict()
  .refine((l) => !(l.path && l.url), {
    message: 'give either "path" (a SQLite file) or "url" (Postgres), not both',
  })
  .default({ timeouts: LEDGER_TIMEOUTS, spool: { maxEntries: LEDGER_SPOOL_MAX } })
  .meta({
    description:
      'Where the ledger lives: `path` (SQLite) or `url` (Postgres), not both. With neither, `$TOLLGATE_DATABASE_URL` when set, else `./data/ledger.db`. Read at start only.',
  })
  .transform((l): LedgerSection => {
    const rest = {
      ...(l.lapseMs === undefined ? {} : { lapseMs: l.lapseMs }),
      timeouts: l.timeouts,
      spool: l.spool,
      ...(l.reports === undefined ? {} : { reports: l.reports }),
      ...(l.retention === undefined ? {} : { retention: l.retention }),
    };
    if (l.url) return { url: l.url, ...rest };
    if (l.path) return { path: l.path, ...rest };
    const env = process.env.TOLLGATE_DATABASE_URL;
    return env ? { url: env, ...rest } : { path: './data/ledger.db', ...rest };
  });
