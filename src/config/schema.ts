import { z } from 'zod';
import { realtimeSchema } from '../realtime/config.js';
import { reconciliationSchema } from '../reconcile/config.js';
import { settlementSchema } from '../settlement/config.js';
import { alertsSchema } from './schema-alerts.js';
import { companySchema } from './schema-company.js';
import { apiKeySchema, operatorSchema } from './schema-keys.js';
import {
  allocationSchema,
  identifier,
  jwtSchema,
  purchaseSchema,
  quotasSchema,
  rateLimitsSchema,
  tokens,
  usd,
} from './schema-parts.js';
import { featureSchema, priceSchema } from './schema-prices.js';
import { ledgerSchema, listenSchema, upstreamSchema } from './schema-startup.js';

export { companySchema } from './schema-company.js';
export { apiKeySchema, operatorSchema } from './schema-keys.js';
export { allocationSchema, jwtSchema, purchaseSchema, quotasSchema, rateLimitsSchema } from './schema-parts.js';
export { featureSchema, priceSchema } from './schema-prices.js';

/** The whole `proxy.config.json` (reference: docs/configuration.md, generated from it); cross-field checks in `superRefine`. */
export const configSchema = z
  .object({
    $schema: z
      .string()
      .optional()
      .meta({
        description: 'The JSON Schema editors check the file against.',
        examples: ['./proxy.config.schema.json'],
      }),
    listen: listenSchema,
    upstream: upstreamSchema,
    ledger: ledgerSchema,
    admission: z
      .object({
        noCeilingPolicy: z.enum(['clamp', 'default']).default('clamp').meta({
          description:
            "How a request without an output ceiling is held: `clamp` holds the model's largest output, or, when the balance cannot cover it, what is left, and caps the request's ceiling to match; `default` holds `defaultMaxOutputTokens` and leaves the request as sent.",
        }),
        defaultMaxOutputTokens: tokens
          .default(4096)
          .meta({ description: 'The output ceiling the `default` policy assumes.', unit: 'tokens', examples: [8192] }),
        interruptedPolicy: z.enum(['charge_prompt', 'release']).default('charge_prompt').meta({
          description:
            'What rows left `held` by a crash are billed when resolved at the next start: `charge_prompt`, their counted prompt; `release`, nothing. Also applies to deferred work whose usage tollgate must estimate (an object gone upstream or past its deadline, a batch whose output file cannot be read): `charge_prompt` bills the estimate, `release` nothing.',
        }),
        unpricedModels: z.enum(['reject', 'unbilled']).default('reject').meta({
          description:
            'A request for a model with no price: `reject` answers 400 `model_not_priced`; `unbilled` forwards it, meters its tokens at cost 0 and flags its row `model_not_priced`.',
        }),
        // Absent: the rule in src/proxy/deferred/fine-tuning.ts.
        fineTuningAutoEpochs: z
          .number()
          .int()
          .min(1)
          .max(50)
          .optional()
          .meta({
            description:
              'Epochs held for a fine-tuning job with `n_epochs: "auto"` (or none). Absent: the epochs OpenAI\'s documented default picks for the training file\'s example count.',
            unit: 'epochs',
            examples: [3],
          }),
        multipartHold: z
          .object({
            tokens: tokens
              .default(16_384)
              .meta({ description: 'Held on token grants.', unit: 'tokens', examples: [32768] }),
            usd: usd.default(0.5).meta({ description: 'Held on USD grants.', unit: 'USD', examples: [1] }),
          })
          .strict()
          .default({ tokens: 16_384, usd: 0.5 })
          .meta({
            description:
              'What an upload (audio transcriptions and translations, image edits and variations) holds before its model is known, on the grants that cover every model.',
          }),
      })
      .strict()
      .default({
        noCeilingPolicy: 'clamp',
        defaultMaxOutputTokens: 4096,
        interruptedPolicy: 'charge_prompt',
        unpricedModels: 'reject',
        multipartHold: { tokens: 16_384, usd: 0.5 },
      })
      .meta({ description: 'How requests are held before they go upstream.' }),
    unknownPaths: z.enum(['reject', 'passthrough']).default('reject').meta({
      description:
        "Requests to `/v1/...` paths tollgate does not meter: `reject` answers OpenAI's 404; `passthrough` forwards them with the shared upstream key (bodies streamed) and records an unbilled row. Unsafe between tenants.",
    }),
    objects: z
      .object({
        unrecordedVisibleTo: z
          .array(identifier)
          .default([])
          .meta({
            description:
              'Company key ids that may read, list and delete upstream objects tollgate never saw created (made before it, or with the upstream key directly); they are hidden from everyone else.',
            examples: [['ops-key']],
          }),
      })
      .strict()
      .default({ unrecordedVisibleTo: [] })
      .meta({
        description:
          'Upstream objects (files, batches, fine-tuned models…) are visible only to the company that created them through tollgate.',
      }),
    companies: z
      .record(identifier.meta({ title: 'company' }), companySchema)
      .meta({ description: 'The tenants, by company id.' }),
    purchases: z
      .record(identifier.meta({ title: 'purchase' }), purchaseSchema)
      .default({})
      .meta({ description: 'Purchase records, by id.' }),
    alerts: alertsSchema,
    prices: z
      .record(z.string().min(1).meta({ title: 'model' }), z.union([priceSchema, z.array(priceSchema).min(1)]))
      .default({})
      .meta({
        description:
          "Price overrides and additions, by model name or family (`gpt-4o` covers `gpt-4o-2024-08-06`): one price, or several with `effectiveFrom` dates. They take precedence over tollgate's own entries and the price source (`@pydantic/genai-prices`, pinned): see docs/prices.md.",
        examples: [
          {
            'ft:gpt-4o-mini': {
              input: 0.3,
              cachedInput: 0.15,
              output: 1.2,
              source: 'fine-tune pricing',
              date: '2026-11-01',
            },
          },
        ],
      }),
    features: z
      .record(
        z
          .string()
          .regex(/^[a-z0-9_.-]{1,64}$/, 'expected a lowercase feature name')
          .meta({ title: 'feature' }),
        featureSchema,
      )
      .default({})
      .meta({ description: 'Feature rates, by name.' }),
    operators: z.array(operatorSchema).default([]).meta({ description: 'Operator keys, stored hashed.' }),
    realtime: realtimeSchema,
    settlement: settlementSchema,
    reconciliation: reconciliationSchema,
    metrics: z
      .object({
        requireAuth: z.boolean().default(false).meta({
          description: '`true`: `/metrics` asks for an operator key; `false`: it is open on the listen address.',
        }),
      })
      .strict()
      .default({ requireAuth: false })
      .meta({ description: 'The Prometheus endpoint `/metrics`.' }),
    dashboard: z
      .object({
        sessionSecretEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
          .optional()
          .meta({
            description:
              'The env var holding the HS256 secret that signs session cookies and sign-in links. Unset or empty: a random secret per process, so sessions end at a restart and `tollgate dashboard link` refuses to mint links.',
            examples: ['TOLLGATE_SESSION_SECRET'],
          }),
        sessionMinutes: z
          .number()
          .int()
          .min(1)
          .max(10_080)
          .default(480)
          .meta({
            description: "A session's lifetime, never past the key or token it was exchanged for.",
            unit: 'minutes',
            examples: [60],
          }),
        linkMinutes: z
          .number()
          .int()
          .min(1)
          .max(60)
          .default(10)
          .meta({ description: "A one-time sign-in link's lifetime.", unit: 'minutes', examples: [5] }),
      })
      .strict()
      .default({ sessionMinutes: 480, linkMinutes: 10 })
      .meta({ description: 'The web dashboard at `/dashboard`.' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const name of Object.keys(cfg.reconciliation.upstreamKeys))
      if (name !== cfg.upstream.apiKeyEnv)
        ctx.addIssue({
          code: 'custom',
          path: ['reconciliation', 'upstreamKeys', name],
          message: `tollgate has no upstream key in $${name}: it reads its upstream key from $${cfg.upstream.apiKeyEnv} (upstream.apiKeyEnv)`,
        });
    // Retention keeps today and `rawDays` whole UTC days before it; a reconciliation reads `days` (today included) from raw rows.
    const rawDays = cfg.ledger.retention?.rawDays;
    const reconciled = cfg.reconciliation.schedule?.days;
    if (rawDays !== undefined && reconciled !== undefined && rawDays + 1 < reconciled)
      ctx.addIssue({
        code: 'custom',
        path: ['ledger', 'retention', 'rawDays'],
        message: `the daily reconciliation compares ${reconciled} days (reconciliation.schedule.days), but raw rows are kept for ${rawDays} days before today: archived days would read as drift; keep rawDays at ${reconciled - 1} or more`,
      });
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
/** One company of `companies` (validated: keys, allocations, quotas, limits, end users, tags; see schema-company.ts). */
export type CompanyConfig = z.output<typeof companySchema>;
/** A company's API key: its id, the SHA-256 of the key (hex) and display prefix, role, expiry and revocation (see schema-keys.ts). */
export type ApiKeyConfig = z.output<typeof apiKeySchema>;
/** An allocation: a grant of tokens or USD (held as micro-USD) to a company, for some models, possibly renewing (see schema-parts.ts). */
export type AllocationConfig = z.output<typeof allocationSchema>;
/** A model's price: USD per million tokens of each kind (text, cached, audio, image…), with its source and date (see schema-prices.ts). */
export type PriceConfig = z.output<typeof priceSchema>;
/** A purchase of upstream credit: its date, tokens bought and their cost in USD per token, provider, expiry (see schema-parts.ts). */
export type PurchaseConfig = z.output<typeof purchaseSchema>;
/** A feature rate (chosen by the `x-tollgate-feature` header): the multiplier on its requests' metered tokens (see schema-prices.ts). */
export type FeatureConfig = z.output<typeof featureSchema>;
/** An operator key: reads every company's reports (see schema-keys.ts). */
export type OperatorConfig = z.output<typeof operatorSchema>;
/** Per-user and per-key token and USD quotas by window (daily, monthly in the company's time zone, hard, session; see schema-parts.ts). */
export type QuotasConfig = z.output<typeof quotasSchema>;
/** Rate limits of a user or key: requests and estimated tokens per rolling minute (see schema-parts.ts). */
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
/** How per-user JWTs are verified: issuer, audience, keys or JWKS URL, algorithms, claims (see schema-parts.ts). */
export type JwtConfig = z.output<typeof jwtSchema>;
/** Where alerts are sent (a webhook, signed with a secret named by env var) and when quota and low-balance alerts fire (thresholds as fractions 0–1; see schema-alerts.ts). */
export type AlertsConfig = z.output<typeof alertsSchema>;
