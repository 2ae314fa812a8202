import { z } from 'zod';
import { everySchema, prioritySchema, rolloverSchema } from './schema-budgets.js';

/**
 * The parts of `proxy.config.json`'s schema (schema.ts assembles them), validated at start with zod.
 *
 * Conventions: every instant is an ISO 8601 string with an explicit offset
 * (`2027-01-01T00:00:00Z`) and is stored as UTC; token amounts are integers;
 * prices are USD per 1,000,000 tokens, as OpenAI publishes them.
 */

const instantText = z
  .string()
  .refine((s) => /(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'expected an ISO 8601 instant with an offset, e.g. "2027-01-01T00:00:00Z"',
  })
  .meta({ format: 'date-time' });

/** An ISO 8601 instant with an offset, parsed to a `Date` (UTC). */
export const instant = instantText.transform((s) => new Date(s));

/**
 * `instant` with the example the configuration reference shows: zod's JSON Schema drops examples
 * given on a transform, so the example sits on the text before it.
 */
export const instantLike = (example: string) => instantText.meta({ examples: [example] }).transform((s) => new Date(s));

/** An id (company, key, grant…): 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit. */
export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected an id of letters, digits, ".", "_" or "-" (1-64 chars)');

/** The name of an environment variable (a secret is named, never written, in the config). */
export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** A count of tokens: a non-negative integer no larger than `Number.MAX_SAFE_INTEGER`. */
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
  .object({
    tokens: tokens
      .optional()
      .meta({ description: 'The limit in tokens (metered tokens).', unit: 'tokens', examples: [100000] }),
    usd: usd.optional().meta({ description: 'The limit in money.', unit: 'USD', examples: [50] }),
  })
  .strict()
  .refine((l) => l.tokens !== undefined || l.usd !== undefined, { message: 'expected "tokens" and/or "usd"' })
  .meta({ id: 'Limit', description: 'A limit in tokens and/or USD (at least one); both apply when both are given.' });

/**
 * Quotas of one user or key: `daily` and `monthly` are calendar windows in the company's
 * `timeZone`; `hard` is for the lifetime of the user or key; `session` is per JWT session (`sid`).
 */
export const quotasSchema = z
  .object({
    daily: limit.optional().meta({
      description:
        "A calendar day in the company's `timeZone`, local midnight to midnight (23 or 25 hours across a DST change).",
    }),
    monthly: limit.optional().meta({ description: "A calendar month in the company's `timeZone`, from the 1st." }),
    hard: limit.optional().meta({ description: 'For the lifetime of the user or key.' }),
    session: limit.optional().meta({ description: "Per user-token session (the JWT's `sid`)." }),
  })
  .strict()
  .meta({
    description:
      'Quotas, checked and held in the same transaction as the grants. Exceeded: 429 `insufficient_quota`, naming the quota and when it resets.',
  });

/** Rate limits of one user or key, per rolling minute. Source of the shape: OpenAI's own RPM/TPM limits. */
export const rateLimitsSchema = z
  .object({
    requestsPerMinute: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'Requests admitted per rolling minute.', unit: 'requests per minute', examples: [60] }),
    tokensPerMinute: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({
        description: "Tokens admitted per rolling minute, counting each request's estimate.",
        unit: 'tokens per minute',
        examples: [100000],
      }),
  })
  .strict()
  .meta({
    description:
      'Token buckets that refill continuously. Exceeded: 429 `rate_limit_exceeded` with `retry-after` and `x-ratelimit-*` headers. Batches and fine-tuning jobs are not rate-limited.',
  });

/** Limits for a user or key: quotas and rate limits. */
export const limitsSchema = z
  .object({ quotas: quotasSchema.optional(), rateLimits: rateLimitsSchema.optional() })
  .strict()
  .meta({ id: 'Limits', description: 'Quotas and rate limits of one user or one key.' });

/** The JWS algorithms accepted on user tokens (RFC 7518 names; `alg: none` is never accepted). */
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
    algorithms: z
      .array(jwtAlgorithm)
      .min(1)
      .meta({
        description:
          'The signing algorithms accepted. A token signed with any other, or with `none`, is refused with 401 `invalid_api_key`.',
        examples: [['HS256']],
      }),
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional()
      .meta({
        description: 'The env var holding the HMAC secret (HS256, HS384, HS512).',
        examples: ['ACME_JWT_SECRET'],
      }),
    publicKey: z
      .string()
      .includes('BEGIN PUBLIC KEY', { message: 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)' })
      .optional()
      .meta({
        description: 'A PEM public key (SPKI), for the asymmetric algorithms.',
        examples: ['-----BEGIN PUBLIC KEY-----\\n…'],
      }),
    jwksUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .meta({
        description: "A JWKS URL serving the identity provider's public keys.",
        examples: ['https://idp.acme.com/.well-known/jwks.json'],
      }),
    issuer: z
      .string()
      .optional()
      .meta({ description: 'The `iss` claim a token must carry.', examples: ['https://idp.acme.com'] }),
    audience: z
      .string()
      .optional()
      .meta({ description: 'The `aud` claim a token must carry.', examples: ['tollgate'] }),
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
  })
  .meta({
    description:
      "How the company's user tokens (JWTs) are verified: exactly one of `secretEnv`, `publicKey` or `jwksUrl`, with the algorithms pinned. A token names the user (`sub`), the company (`company`), a `role` (`member` or `admin`), an `exp` (required) and optionally a session (`sid`).",
  });

/** A free-text note on an entry. */
export const note = z
  .string()
  .optional()
  .meta({ description: 'Free text, for people.', examples: ['Q4 allocation'] });

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
    id: identifier.meta({
      description:
        'A name for the grant, unique in the config. Once used, it stays with its company and its unit: give a new grant a new id.',
      examples: ['acme-2026-q4'],
    }),
    tokens: tokens.optional().meta({ description: 'An amount of tokens.', unit: 'tokens', examples: [1000000] }),
    usd: usd
      .optional()
      .meta({ description: "An amount of money, charged at the model's price.", unit: 'USD', examples: [250] }),
    unlimited: z
      .literal(true)
      .optional()
      .meta({ description: "No limit for the grant's `models`; usage is still debited to it, so reports show it." }),
    models: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({
        description:
          'The models or families the grant covers (`gpt-4o` covers `gpt-4o-2024-08-06`). Absent: every model. Required with `unlimited`.',
        examples: [['text-embedding-3-small']],
      }),
    startsAt: instantLike('2026-10-01T00:00:00Z')
      .optional()
      .meta({ description: 'When the grant starts counting (inclusive).' }),
    expiresAt: instantLike('2027-01-01T00:00:00Z').optional().meta({
      description: 'When the grant stops counting (exclusive: at that instant it has expired).',
    }),
    purchase: identifier.optional().meta({
      description: 'The purchase record (under `purchases`) the grant comes from.',
      examples: ['openai-2026-10'],
    }),
    note,
    priority: prioritySchema.optional(),
    every: everySchema.optional(),
    rollover: rolloverSchema.optional(),
  })
  .strict()
  .refine((a) => [a.tokens, a.usd, a.unlimited].filter((v) => v !== undefined).length === 1, {
    message: 'expected exactly one of "tokens", "usd" or "unlimited": true',
  })
  .refine((a) => !a.every || !a.unlimited, {
    message: 'an unlimited grant does not renew: "every" needs "tokens" or "usd"',
    path: ['every'],
  })
  .refine((a) => !a.rollover || a.every, { message: '"rollover" needs "every"', path: ['rollover'] })
  .refine((a) => !a.rollover || a.usd !== undefined || Number.isInteger(a.rollover.max), {
    message: 'expected a whole number of tokens',
    path: ['rollover', 'max'],
  })
  .refine(
    (a) =>
      !a.rollover || a.tokens !== undefined || Math.abs(a.rollover.max * 1e6 - Math.round(a.rollover.max * 1e6)) < 1e-6,
    { message: 'expected at most 6 decimal places (USD)', path: ['rollover', 'max'] },
  )
  .refine((a) => !a.unlimited || a.models, { message: 'an unlimited grant must name its "models"', path: ['models'] })
  .refine((a) => !a.startsAt || !a.expiresAt || a.startsAt < a.expiresAt, {
    message: 'expiresAt must be after startsAt',
    path: ['expiresAt'],
  })
  .meta({
    description:
      'Each has exactly one of `tokens`, `usd` or `unlimited: true`. Editing or removing a grant never rewrites history: its past debits stay.',
  });

/** A purchase record: where a company's tokens came from and what they cost. */
export const purchaseSchema = z
  .object({
    date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
      .meta({ description: 'The date of the purchase.', format: 'date', examples: ['2026-10-01'] }),
    totalTokens: tokens.meta({ description: 'Tokens bought.', unit: 'tokens', examples: [1000000] }),
    costPerTokenUsd: z
      .number()
      .nonnegative()
      .meta({ description: 'What each token cost from the provider.', unit: 'USD per token', examples: [0.00003] }),
    provider: z
      .string()
      .min(1)
      .meta({ description: 'Who the tokens were bought from.', examples: ['openai'] }),
    expiresAt: instantLike('2027-01-01T00:00:00Z')
      .optional()
      .meta({ description: "When the provider's tokens expire." }),
    notes: z
      .string()
      .optional()
      .meta({ description: 'Free text, for people.', examples: ['Q4 commitment'] }),
  })
  .strict()
  .meta({ description: 'Each says where tokens came from and what they cost; grants name it in `purchase`.' });

/** An IANA time zone name (`Europe/Paris`), as `Intl.DateTimeFormat` knows it. */
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
