import { z } from 'zod';

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
    note: z.string().optional(),
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
    usd: z
      .number()
      .nonnegative()
      .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, { message: 'expected at most 6 decimal places (USD)' })
      .optional(),
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

/** A purchase record (seed 000): where a company's tokens came from and what they cost. */
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

export const companySchema = z
  .object({
    name: z.string().min(1),
    keys: z.array(apiKeySchema).default([]),
    allocations: z.array(allocationSchema).default([]),
  })
  .strict();

/** One model's price. Source: the provider's published price list, named in `source` with its `date`. */
export const priceSchema = z
  .object({
    input: usdPerMillion,
    cachedInput: usdPerMillion.optional(),
    output: usdPerMillion.default(0),
    source: z.string().min(1),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  })
  .strict();

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
        apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name').default('OPENAI_API_KEY'),
        connections: z.number().int().positive().default(128),
      })
      .strict()
      .default({ baseUrl: 'https://api.openai.com', apiKeyEnv: 'OPENAI_API_KEY', connections: 128 }),
    ledger: z
      .object({ path: z.string().min(1).default('./data/ledger.db') })
      .strict()
      .default({ path: './data/ledger.db' }),
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
      })
      .strict()
      .default({ noCeilingPolicy: 'clamp', defaultMaxOutputTokens: 4096, interruptedPolicy: 'charge_prompt' }),
    /**
     * Requests to `/v1/...` paths tollgate does not meter: `reject` answers OpenAI's 404 shape;
     * `passthrough` forwards them (bodies streamed, not buffered) and records an unbilled row.
     */
    unknownPaths: z.enum(['reject', 'passthrough']).default('reject'),
    companies: z.record(identifier, companySchema),
    purchases: z.record(identifier, purchaseSchema).default({}),
    prices: z.record(z.string().min(1), priceSchema).default({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, string>();
    for (const [companyId, company] of Object.entries(cfg.companies)) {
      company.keys.forEach((k, i) => {
        const where = `companies.${companyId}.keys.${i}`;
        const owner = seen.get(`key:${k.id}`) ?? seen.get(`hash:${k.sha256}`);
        if (owner) ctx.addIssue({ code: 'custom', path: ['companies', companyId, 'keys', i], message: `duplicate key id or hash (also at ${owner})` });
        seen.set(`key:${k.id}`, where);
        seen.set(`hash:${k.sha256}`, where);
      });
      company.allocations.forEach((a, i) => {
        const owner = seen.get(`grant:${a.id}`);
        if (owner) ctx.addIssue({ code: 'custom', path: ['companies', companyId, 'allocations', i, 'id'], message: `duplicate allocation id (also at ${owner})` });
        seen.set(`grant:${a.id}`, `companies.${companyId}.allocations.${i}`);
        if (a.purchase && !cfg.purchases[a.purchase]) {
          ctx.addIssue({ code: 'custom', path: ['companies', companyId, 'allocations', i, 'purchase'], message: `no purchase "${a.purchase}" under "purchases"` });
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
