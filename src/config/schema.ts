import { z } from 'zod';
import { realtimeSchema } from '../realtime/config.js';
import { settlementSchema } from '../settlement/config.js';
import {
  LEDGER_SPOOL_MAX,
  LEDGER_TIMEOUTS,
  ledgerSpoolSchema,
  ledgerTimeoutsSchema,
  type LedgerTimeouts,
} from './ledger-schema.js';
import {
  identifier,
  tokens,
  usd,
  quotasSchema,
  rateLimitsSchema,
  jwtSchema,
  apiKeySchema,
  allocationSchema,
  purchaseSchema,
  companySchema,
  priceSchema,
  featureSchema,
  operatorSchema,
} from './schema-parts.js';

export {
  allocationSchema,
  apiKeySchema,
  companySchema,
  featureSchema,
  jwtSchema,
  operatorSchema,
  priceSchema,
  purchaseSchema,
  quotasSchema,
  rateLimitsSchema,
} from './schema-parts.js';

/** The whole `proxy.config.json` (see the README's config table); cross-field checks in `superRefine`. */
export const configSchema = z
  .object({
    $schema: z.string().optional(),
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8787),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8787 }),
    upstream: z
      .object({
        baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.openai.com'),
        apiKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
          .default('OPENAI_API_KEY'),
        connections: z.number().int().positive().default(128),
        /**
         * Timeouts in ms: `connectMs` to open a connection, `firstByteMs` until response headers,
         * `idleMs` between two chunks of a body (a stalled stream). 0 disables one.
         */
        timeouts: z
          .object({
            connectMs: z.number().int().nonnegative().default(10_000),
            firstByteMs: z.number().int().nonnegative().default(600_000),
            idleMs: z.number().int().nonnegative().default(300_000),
          })
          .strict()
          .default({ connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 }),
      })
      .strict()
      .default({
        baseUrl: 'https://api.openai.com',
        apiKeyEnv: 'OPENAI_API_KEY',
        connections: 128,
        timeouts: { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 },
      }),
    /**
     * Where the ledger lives: `path`, a SQLite file (default `./data/ledger.db`; one process), or
     * `url`, a Postgres database (`postgres://user:password@host:5432/db`; several replicas or
     * `--workers`). Exactly one; with neither, `$TOLLGATE_DATABASE_URL` when set, else the default file.
     */
    ledger: z
      .object({
        path: z.string().min(1).optional(),
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
          .optional(),
        /** Postgres: ms without a heartbeat after which a replica counts as gone and its holds are resolved (default 30,000; it heartbeats every sixth of that). */
        lapseMs: z.number().int().min(600).optional(),
        timeouts: ledgerTimeoutsSchema,
        spool: ledgerSpoolSchema,
      })
      .strict()
      .refine((l) => !(l.path && l.url), {
        message: 'give either "path" (a SQLite file) or "url" (Postgres), not both',
      })
      .default({ timeouts: LEDGER_TIMEOUTS, spool: { maxEntries: LEDGER_SPOOL_MAX } })
      .transform(
        (
          l,
        ): ({ path: string; url?: undefined } | { url: string; path?: undefined }) & {
          lapseMs?: number;
          timeouts: LedgerTimeouts;
          spool: { dir?: string; maxEntries: number };
        } => {
          const rest = {
            ...(l.lapseMs === undefined ? {} : { lapseMs: l.lapseMs }),
            timeouts: l.timeouts,
            spool: l.spool,
          };
          if (l.url) return { url: l.url, ...rest };
          if (l.path) return { path: l.path, ...rest };
          const env = process.env.TOLLGATE_DATABASE_URL;
          return env ? { url: env, ...rest } : { path: './data/ledger.db', ...rest };
        },
      ),
    admission: z
      .object({
        /**
         * A request without an output ceiling: `clamp` holds the model's maximum output, or caps the
         * request's ceiling at what the balance affords; `default` holds `defaultMaxOutputTokens`.
         */
        noCeilingPolicy: z.enum(['clamp', 'default']).default('clamp'),
        defaultMaxOutputTokens: tokens.default(4096),
        /** Holds found open at start (the process died): `charge_prompt` bills the counted prompt; `release` bills nothing. */
        interruptedPolicy: z.enum(['charge_prompt', 'release']).default('charge_prompt'),
        /** A model with no price: `reject` (400 `model_not_priced`) or `unbilled` (forwarded, tokens metered, cost 0, flagged). */
        unpricedModels: z.enum(['reject', 'unbilled']).default('reject'),
        /**
         * Epochs held for a fine-tuning job with `n_epochs: "auto"` (or none): absent, the epochs
         * OpenAI's documented default picks for the file's example count (see proxy/deferred/fine-tuning.ts).
         */
        fineTuningAutoEpochs: z.number().int().min(1).max(50).optional(),
        /** What multipart requests (audio, image edits) hold before their model is known, in tokens and USD. */
        multipartHold: z
          .object({ tokens: tokens.default(16_384), usd: usd.default(0.5) })
          .strict()
          .default({ tokens: 16_384, usd: 0.5 }),
      })
      .strict()
      .default({
        noCeilingPolicy: 'clamp',
        defaultMaxOutputTokens: 4096,
        interruptedPolicy: 'charge_prompt',
        unpricedModels: 'reject',
        multipartHold: { tokens: 16_384, usd: 0.5 },
      }),
    /**
     * Requests to `/v1/...` paths tollgate does not meter: `reject` answers OpenAI's 404 shape;
     * `passthrough` forwards them (bodies streamed, not buffered) and records an unbilled row.
     */
    unknownPaths: z.enum(['reject', 'passthrough']).default('reject'),
    /**
     * Upstream objects (files, batches, fine-tuned models…) are visible only to the company that
     * created them through tollgate. Objects tollgate never saw created (made before it, or directly
     * with the upstream key) are hidden from everyone, except the company keys listed here
     * (the operator's own keys): they may read, list and delete those.
     */
    objects: z
      .object({ unrecordedVisibleTo: z.array(identifier).default([]) })
      .strict()
      .default({ unrecordedVisibleTo: [] }),
    companies: z.record(identifier, companySchema),
    purchases: z.record(identifier, purchaseSchema).default({}),
    alerts: z
      .object({
        /** Where alerts are POSTed as JSON; without it they are only logged and stored. */
        webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** Env var holding the HMAC-SHA256 secret that signs webhook bodies (header `x-tollgate-signature`). */
        webhookSecretEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .optional(),
        /** Fractions of a quota used at which a warning and a critical alert fire. */
        quotaThresholds: z.tuple([z.number().gt(0).lt(1), z.number().gt(0).lt(1)]).default([0.8, 0.95]),
        /** Fractions of a grant left at which a low-balance warning and critical alert fire. */
        lowBalanceThresholds: z.tuple([z.number().gt(0).lt(1), z.number().gt(0).lt(1)]).default([0.1, 0.05]),
        /**
         * A spike: a user's tokens in one minute above `multiple` × their average minute over the trailing `windowMinutes`,
         * once tollgate has seen that user for at least `minHistoryMinutes` (so a first try-out never fires one).
         */
        spike: z
          .object({
            multiple: z.number().gt(1).default(5),
            windowMinutes: z.number().int().min(2).max(1440).default(60),
            minTokens: tokens.default(1000),
            minHistoryMinutes: z.number().int().min(1).max(1440).default(30),
          })
          .strict()
          .default({ multiple: 5, windowMinutes: 60, minTokens: 1000, minHistoryMinutes: 30 }),
      })
      .strict()
      .default({
        quotaThresholds: [0.8, 0.95],
        lowBalanceThresholds: [0.1, 0.05],
        spike: { multiple: 5, windowMinutes: 60, minTokens: 1000, minHistoryMinutes: 30 },
      }),
    /**
     * Price overrides and additions, by model name or family: one price, or several with
     * `effectiveFrom` dates. They take precedence over tollgate's built-in table (src/pricing/table.ts).
     */
    prices: z.record(z.string().min(1), z.union([priceSchema, z.array(priceSchema).min(1)])).default({}),
    /** Feature rates by name, chosen per request with the `x-tollgate-feature` header. */
    features: z
      .record(z.string().regex(/^[a-z0-9_.-]{1,64}$/, 'expected a lowercase feature name'), featureSchema)
      .default({}),
    /** Operator credentials (see `operatorSchema`). */
    operators: z.array(operatorSchema).default([]),
    /** Realtime sessions (`/v1/realtime` over WebSocket): see `realtimeSchema` in src/realtime/config.ts. */
    realtime: realtimeSchema,
    /** Deferred settlement (background responses, batches…): see `settlementSchema` in src/settlement/config.ts. */
    settlement: settlementSchema,
    /** `/metrics`: open on the listen address by default; `requireAuth` asks for an operator key. */
    metrics: z
      .object({ requireAuth: z.boolean().default(false) })
      .strict()
      .default({ requireAuth: false }),
    /**
     * The web dashboard at `/dashboard`: `sessionSecretEnv` names the env var holding the HS256
     * secret that signs session cookies and sign-in links (unset or empty: a random secret per
     * process, so sessions end at a restart and links from `tollgate dashboard link` do not work);
     * `sessionMinutes` is a session's lifetime, `linkMinutes` a sign-in link's.
     */
    dashboard: z
      .object({
        sessionSecretEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
          .optional(),
        sessionMinutes: z.number().int().min(1).max(10_080).default(480),
        linkMinutes: z.number().int().min(1).max(60).default(10),
      })
      .strict()
      .default({ sessionMinutes: 480, linkMinutes: 10 }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, string>();
    cfg.operators.forEach((o, i) => {
      const owner = seen.get(`operator:${o.id}`) ?? seen.get(`hash:${o.sha256}`);
      if (owner)
        ctx.addIssue({
          code: 'custom',
          path: ['operators', i],
          message: `duplicate operator id or hash (also at ${owner})`,
        });
      seen.set(`operator:${o.id}`, `operators.${i}`);
      seen.set(`hash:${o.sha256}`, `operators.${i}`);
    });
    for (const [companyId, company] of Object.entries(cfg.companies)) {
      company.keys.forEach((k, i) => {
        const where = `companies.${companyId}.keys.${i}`;
        const owner = seen.get(`key:${k.id}`) ?? seen.get(`hash:${k.sha256}`);
        if (owner)
          ctx.addIssue({
            code: 'custom',
            path: ['companies', companyId, 'keys', i],
            message: `duplicate key id or hash (also at ${owner})`,
          });
        seen.set(`key:${k.id}`, where);
        seen.set(`hash:${k.sha256}`, where);
      });
      company.allocations.forEach((a, i) => {
        const owner = seen.get(`grant:${a.id}`);
        if (owner)
          ctx.addIssue({
            code: 'custom',
            path: ['companies', companyId, 'allocations', i, 'id'],
            message: `duplicate allocation id (also at ${owner})`,
          });
        seen.set(`grant:${a.id}`, `companies.${companyId}.allocations.${i}`);
        if (a.purchase && !cfg.purchases[a.purchase]) {
          ctx.addIssue({
            code: 'custom',
            path: ['companies', companyId, 'allocations', i, 'purchase'],
            message: `no purchase "${a.purchase}" under "purchases"`,
          });
        }
      });
    }
  });

/** The validated config, with defaults filled in and instants as `Date`. */
export type Config = z.output<typeof configSchema>;
export type CompanyConfig = z.output<typeof companySchema>;
export type ApiKeyConfig = z.output<typeof apiKeySchema>;
export type AllocationConfig = z.output<typeof allocationSchema>;
export type PriceConfig = z.output<typeof priceSchema>;
export type PurchaseConfig = z.output<typeof purchaseSchema>;
export type FeatureConfig = z.output<typeof featureSchema>;
export type OperatorConfig = z.output<typeof operatorSchema>;
export type QuotasConfig = z.output<typeof quotasSchema>;
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
export type JwtConfig = z.output<typeof jwtSchema>;
export type AlertsConfig = z.output<typeof configSchema>['alerts'];
