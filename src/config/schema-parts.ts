import { z } from 'zod';
import { companyRealtimeSchema } from '../realtime/config.js';

/**
 * The parts of `proxy.config.json`'s schema (schema.ts assembles them), validated at start with zod.
 *
 * Conventions: every instant is an ISO 8601 string with an explicit offset
 * (`2027-01-01T00:00:00Z`) and is stored as UTC; token amounts are integers;
 * prices are USD per 1,000,000 tokens, as OpenAI publishes them.
 */

export const instant = z
  .string()
  .refine((s) => /(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'expected an ISO 8601 instant with an offset, e.g. "2027-01-01T00:00:00Z"',
  })
  .transform((s) => new Date(s));

export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected an id of letters, digits, ".", "_" or "-" (1-64 chars)');

export const tokens = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** An amount in USD with at most 6 decimals, so that it is exact in integer micro-USD. */
export const usd = z
  .number()
  .nonnegative()
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, {
    message: 'expected at most 6 decimal places (USD)',
  });

/** A limit in tokens and/or USD; both apply when both are given. */
export const limit = z
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
export const limitsSchema = z
  .object({ quotas: quotasSchema.optional(), rateLimits: rateLimitsSchema.optional() })
  .strict();

export const jwtAlgorithm = z.enum([
  'HS256',
  'HS384',
  'HS512',
  'ES256',
  'ES384',
  'EdDSA',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
]);

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
export const usdPerMillion = z
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

export const timeZone = z.string().refine(
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

/**
 * One model's price, USD per 1M tokens unless named otherwise, with its `source` and `date`.
 * Token prices: `input` (text), `cachedInput`, `output` (text; reasoning included), `audioInput`,
 * `audioOutput`, `imageInput`, `imageOutput` (each falls back to `input` / `output` when absent).
 * Other units: `perMinute` (USD per minute of audio, whisper), `perMillionCharacters` (USD per 1M
 * input characters, tts-1), `perImage` (USD per image by `"<size>/<quality>"`, e.g.
 * `"1024x1024/standard"`, DALL·E), `training` (USD per 1M training tokens of a fine-tuning job),
 * `perSecond` (USD per second of video, by size). `batchDiscount` is the fraction taken off for the Batch API
 * (OpenAI: 0.5), and also what `service_tier: "flex"` takes off (flex is billed at Batch rates);
 * `priority` the token prices of `service_tier: "priority"`. `cacheWrite`, `longContext` tiers,
 * `webSearch` / `fileSearch` fees, `perHour` and the model's `contextWindow` / `maxOutputTokens` as
 * the price source (`@pydantic/genai-prices`) has them. `effectiveFrom` (UTC date) lets a price take
 * over from an older one on that day.
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
    /** Cache writes (input tokens written to the prompt cache), where the model prices them. */
    cacheWrite: usdPerMillion.optional(),
    /**
     * Long-context tiers: from `fromInputTokens` input tokens on, the whole request is billed at the
     * tier's prices (each absent one keeps the standard price), as OpenAI bills gpt-5.4 above 272K.
     */
    longContext: z
      .array(
        z
          .object({
            fromInputTokens: tokens,
            input: usdPerMillion.optional(),
            cachedInput: usdPerMillion.optional(),
            cacheWrite: usdPerMillion.optional(),
            output: usdPerMillion.optional(),
            audioInput: usdPerMillion.optional(),
            audioOutput: usdPerMillion.optional(),
            imageInput: usdPerMillion.optional(),
            imageOutput: usdPerMillion.optional(),
          })
          .strict(),
      )
      .optional(),
    /** USD per 1,000 calls of the built-in web search / file search tools (else OpenAI's list fee). */
    webSearch: z.number().nonnegative().optional(),
    fileSearch: z.number().nonnegative().optional(),
    perMinute: z.number().nonnegative().optional(),
    /** USD per hour of input audio (the price source's unit for whisper); `perMinute` wins when both are set. */
    perHour: z.number().nonnegative().optional(),
    /** The model's context window and largest output (tokens), for holds; absent: the built-in model tables'. */
    contextWindow: tokens.optional(),
    maxOutputTokens: tokens.optional(),
    perMillionCharacters: usdPerMillion.optional(),
    perImage: z
      .record(z.string().regex(/^\d+x\d+\/[a-z]+$/, 'expected "<width>x<height>/<quality>"'), z.number().nonnegative())
      .optional(),
    /** USD per 1M training tokens of a fine-tuning job (a job's `trained_tokens`). */
    training: usdPerMillion.optional(),
    /**
     * USD per second of generated video (sora): one price, or one per `size` (`"720x1280"`), the
     * key `default` covering the sizes not named.
     */
    perSecond: z
      .union([
        z.number().nonnegative(),
        z.record(
          z.string().regex(/^(\d+x\d+|default)$/, 'expected "<width>x<height>" or "default"'),
          z.number().nonnegative(),
        ),
      ])
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

/**
 * Models a company may call although tollgate has no price for them, at an explicit fallback
 * price: `models` are names or patterns (`*` matches any run of characters, `ft:*:acme::*`); the
 * first entry naming a model applies. Rows billed so say `price_source = 'fallback'`.
 */
export const fallbackPriceSchema = z
  .object({
    models: z
      .array(z.string().regex(/^[A-Za-z0-9*][A-Za-z0-9._:*\/-]{0,127}$/, 'expected a model name or a pattern with *'))
      .min(1),
    price: priceSchema,
  })
  .strict();

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
    /** Unpriced models this company may call, at a fallback price (see `fallbackPriceSchema`). */
    fallbackPrices: z.array(fallbackPriceSchema).default([]),
    /** Realtime client secrets for this company: see `companyRealtimeSchema` in src/realtime/config.ts. */
    realtime: companyRealtimeSchema.optional(),
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
