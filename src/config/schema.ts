import { z } from 'zod';
import { realtimeSchema } from '../realtime/config.js';

/**
 * The schema of `proxy.config.json`, validated at start with zod.
 *
 * Conventions: every instant is an ISO 8601 string with an explicit offset
 * (`2027-01-01T00:00:00Z`) and is stored as UTC; token amounts are integers;
 * prices are USD per 1,000,000 tokens, as OpenAI publishes them.
 */

const instant = z
  .string()
  .refine((s) => /(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'expected an ISO 8601 instant with an offset, e.g. "2027-01-01T00:00:00Z"',
  })
  .transform((s) => new Date(s));

const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected an id of letters, digits, ".", "_" or "-" (1-64 chars)');

const tokens = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** An amount in USD with at most 6 decimals, so that it is exact in integer micro-USD. */
const usd = z
  .number()
  .nonnegative()
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, {
    message: 'expected at most 6 decimal places (USD)',
  });

/** A limit in tokens and/or USD; both apply when both are given. */
const limit = z
  .object({ tokens: tokens.optional(), usd: usd.optional() })
  .strict()
  .refine((l) => l.tokens !== undefined || l.usd !== undefined, { message: 'expected "tokens" and/or "usd"' });

/**
 * Quotas of one user or key: `daily` and `monthly` are calendar windows in the company's
 * `timeZone`; `hard` is for the lifetime of the user or key; `session` is per JWT session (`sid`).
 */
export const quotasSchema = z
  .object({ daily: limit.optional(), monthly: limit.optional(), hard: limit.optional(), session: limit.optional() })
  .strict();

/** Rate limits of one user or key, per rolling minute. Source of the shape: OpenAI's own RPM/TPM limits. */
export const rateLimitsSchema = z
  .object({
    requestsPerMinute: z.number().int().positive().optional(),
    tokensPerMinute: z.number().int().positive().optional(),
  })
  .strict();

/** Limits for a user or key: quotas and rate limits. */
const limitsSchema = z.object({ quotas: quotasSchema.optional(), rateLimits: rateLimitsSchema.optional() }).strict();

const jwtAlgorithm = z.enum(['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256']);

/**
 * How a company's user tokens (JWTs) are verified. Exactly one key source: `secretEnv` (the name of
 * an env var holding an HMAC secret, for HS*), `publicKey` (a PEM SPKI public key) or `jwksUrl`.
 * `algorithms` are pinned: a token signed with any other algorithm, or with `none`, is refused.
 */
export const jwtSchema = z
  .object({
    algorithms: z.array(jwtAlgorithm).min(1),
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional(),
    publicKey: z
      .string()
      .includes('BEGIN PUBLIC KEY', { message: 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)' })
      .optional(),
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    issuer: z.string().optional(),
    audience: z.string().optional(),
  })
  .strict()
  .refine((j) => [j.secretEnv, j.publicKey, j.jwksUrl].filter((v) => v !== undefined).length === 1, {
    message: 'expected exactly one of "secretEnv", "publicKey" or "jwksUrl"',
  })
  .refine((j) => !j.secretEnv || j.algorithms.every((a) => a.startsWith('HS')), {
    message: 'a shared secret (secretEnv) verifies only HS256/HS384/HS512',
    path: ['algorithms'],
  })
  .refine((j) => j.secretEnv || j.algorithms.every((a) => !a.startsWith('HS')), {
    message: 'HS* algorithms need "secretEnv"; a public key or JWKS verifies only asymmetric algorithms',
    path: ['algorithms'],
  });

/** USD per 1M tokens, with at most 6 decimals so that costs stay exact in integer micro-USD. */
const usdPerMillion = z
  .number()
  .nonnegative()
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, {
    message: 'expected at most 6 decimal places (USD per 1M tokens)',
  });

/** A company API key as stored in the config: the SHA-256 of the key, never the key itself. */
export const apiKeySchema = z
  .object({
    id: identifier,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the lowercase hex SHA-256 of the key (64 chars)'),
    prefix: z.string().min(4).max(16).describe('The first characters of the key, shown in logs and reports.'),
    expiresAt: instant.optional(),
    revoked: z.boolean().default(false),
    /** `admin` keys see their whole company's usage in the read API; `member` keys only their own. */
    role: z.enum(['member', 'admin']).default('member'),
    note: z.string().optional(),
    /** Overrides of the company's `limits.key` for this key, window by window. */
    limits: limitsSchema.optional(),
  })
  .strict();

/**
 * A grant (allocation) to a company. Exactly one of `tokens` (an amount of tokens), `usd` (an
 * amount of money, charged at the model's price) or `unlimited: true` (no limit, for the models in
 * `models`; usage is still debited to it for reporting). `models` scopes the grant to those models
 * (names or families, e.g. "gpt-4o" covers "gpt-4o-2024-08-06"); absent, it covers every model.
 * It counts from `startsAt` (inclusive) until `expiresAt` (exclusive). `purchase` names an entry
 * of the top-level `purchases` it was allocated from.
 */
export const allocationSchema = z
  .object({
    id: identifier,
    tokens: tokens.optional(),
    usd: usd.optional(),
    unlimited: z.literal(true).optional(),
    models: z.array(z.string().min(1)).min(1).optional(),
    startsAt: instant.optional(),
    expiresAt: instant.optional(),
    purchase: identifier.optional(),
    note: z.string().optional(),
  })
  .strict()
  .refine((a) => [a.tokens, a.usd, a.unlimited].filter((v) => v !== undefined).length === 1, {
    message: 'expected exactly one of "tokens", "usd" or "unlimited": true',
  })
  .refine((a) => !a.unlimited || a.models, { message: 'an unlimited grant must name its "models"', path: ['models'] })
  .refine((a) => !a.startsAt || !a.expiresAt || a.startsAt < a.expiresAt, {
    message: 'expiresAt must be after startsAt',
    path: ['expiresAt'],
  });

/** A purchase record: where a company's tokens came from and what they cost. */
export const purchaseSchema = z
  .object({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
    totalTokens: tokens,
    /** USD per token paid to the provider, e.g. 0.00003. */
    costPerTokenUsd: z.number().nonnegative(),
    provider: z.string().min(1),
    expiresAt: instant.optional(),
    notes: z.string().optional(),
  })
  .strict();

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as "Europe/Berlin"' },
);

/** A company: its keys, grants, user-token verification, limits (with per-user overrides) and time zone. */
export const companySchema = z
  .object({
    name: z.string().min(1),
    /** The zone whose calendar days and months bound daily and monthly quotas (default UTC). */
    timeZone: timeZone.default('UTC'),
    keys: z.array(apiKeySchema).default([]),
    allocations: z.array(allocationSchema).default([]),
    jwt: jwtSchema.optional(),
    /** Defaults for every user (`user`) and every key (`key`) of the company. */
    limits: z.object({ user: limitsSchema.optional(), key: limitsSchema.optional() }).strict().optional(),
    /** Per-user overrides, by user id (the JWT's `sub`), window by window. */
    users: z.record(z.string().min(1), limitsSchema).default({}),
  })
  .strict();

/**
 * One model's price, USD per 1M tokens unless named otherwise, with its `source` and `date`.
 * Token prices: `input` (text), `cachedInput`, `output` (text; reasoning included), `audioInput`,
 * `audioOutput`, `imageInput`, `imageOutput` (each falls back to `input` / `output` when absent).
 * Other units: `perMinute` (USD per minute of audio, whisper), `perMillionCharacters` (USD per 1M
 * input characters, tts-1), `perImage` (USD per image by `"<size>/<quality>"`, e.g.
 * `"1024x1024/standard"`, DALL·E). `batchDiscount` is the fraction taken off for the Batch API
 * (OpenAI: 0.5), and also what `service_tier: "flex"` takes off (flex is billed at Batch rates);
 * `priority` the token prices of `service_tier: "priority"`. `effectiveFrom` (UTC date) lets a price take over from an older one on that day.
 */
export const priceSchema = z
  .object({
    input: usdPerMillion.default(0),
    cachedInput: usdPerMillion.optional(),
    /** Cached audio / image input (Realtime models); each falls back to `cachedInput`. */
    cachedAudioInput: usdPerMillion.optional(),
    cachedImageInput: usdPerMillion.optional(),
    output: usdPerMillion.default(0),
    audioInput: usdPerMillion.optional(),
    audioOutput: usdPerMillion.optional(),
    imageInput: usdPerMillion.optional(),
    imageOutput: usdPerMillion.optional(),
    perMinute: z.number().nonnegative().optional(),
    perMillionCharacters: usdPerMillion.optional(),
    perImage: z
      .record(z.string().regex(/^\d+x\d+\/[a-z]+$/, 'expected "<width>x<height>/<quality>"'), z.number().nonnegative())
      .optional(),
    batchDiscount: z.number().min(0).max(1).default(0.5),
    /** Token prices for `service_tier: "priority"` (USD per 1M); absent: the model has no priority price. */
    priority: z
      .object({ input: usdPerMillion, cachedInput: usdPerMillion.optional(), output: usdPerMillion })
      .strict()
      .optional(),
    effectiveFrom: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
      .optional(),
    source: z.string().min(1),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  })
  .strict();

/** A feature rate: requests naming the feature have their metered tokens multiplied. */
export const featureSchema = z
  .object({ multiplier: z.number().positive().max(1000), description: z.string().optional() })
  .strict();

/**
 * An operator credential: sees every company's usage through the read API (`/tollgate/v1/...`) and,
 * when `metrics.requireAuth` is set, may scrape `/metrics`. Stored hashed like company keys; an
 * operator key cannot call the proxy (`/v1/...`).
 */
export const operatorSchema = z
  .object({
    id: identifier,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the lowercase hex SHA-256 of the key (64 chars)'),
    prefix: z.string().min(4).max(16),
    expiresAt: instant.optional(),
    revoked: z.boolean().default(false),
    note: z.string().optional(),
  })
  .strict();

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
      })
      .strict()
      .refine((l) => !(l.path && l.url), {
        message: 'give either "path" (a SQLite file) or "url" (Postgres), not both',
      })
      .default({})
      .transform(
        (l): ({ path: string; url?: undefined } | { url: string; path?: undefined }) & { lapseMs?: number } => {
          const lapse = l.lapseMs === undefined ? {} : { lapseMs: l.lapseMs };
          if (l.url) return { url: l.url, ...lapse };
          if (l.path) return { path: l.path, ...lapse };
          const env = process.env.TOLLGATE_DATABASE_URL;
          return env ? { url: env, ...lapse } : { path: './data/ledger.db', ...lapse };
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
