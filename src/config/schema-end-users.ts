import { z } from 'zod';
import { envVarName, limit } from './schema-parts.js';

/** Quotas of one end user: calendar windows in the company's time zone, and a lifetime one. */
export const endUserQuotasSchema = z
  .object({
    daily: limit.optional().meta({ description: "Per calendar day in the company's `timeZone`." }),
    monthly: limit.optional().meta({ description: "Per calendar month in the company's `timeZone`." }),
    hard: limit.optional().meta({ description: 'For the lifetime of the end user; never resets.' }),
  })
  .strict();

/** Limits per end user of a company's app: the id its requests carry in `safety_identifier` or `user`. */
export const endUsersSchema = z
  .object({
    missing: z.enum(['pool', 'refuse']).default('pool').meta({
      description:
        "A request that could carry an end-user id and has none: `pool` admits it on the company's grants alone; `refuse` answers 400 `missing_end_user`.",
    }),
    store: z.enum(['as_sent', 'hashed']).default('as_sent').meta({
      description:
        'How the id is kept on the ledger row, in quota counters and in reports: as sent, or hashed (32 hex digits of an HMAC-SHA256 keyed by `hashKeyEnv`, or of a SHA-256 over the company id and the id without it).',
    }),
    hashKeyEnv: envVarName.optional().meta({
      description:
        'The environment variable holding the HMAC key for `store: "hashed"`; keep it stable, or every end user starts anew.',
      examples: ['TOLLGATE_END_USER_KEY'],
    }),
    quotas: endUserQuotasSchema.optional().meta({ description: 'The quotas of every end user.' }),
    overrides: z
      .record(z.string().min(1).max(512).meta({ title: 'end user' }), endUserQuotasSchema)
      .default({})
      .meta({
        description: 'Per-end-user overrides of `quotas`, window by window, by the id as the app sends it.',
        examples: [{ 'user-42': { monthly: { usd: 50 } } }],
      }),
  })
  .strict()
  .refine((e) => e.store === 'hashed' || e.hashKeyEnv === undefined, {
    message: '"hashKeyEnv" applies to store: "hashed" only',
    path: ['hashKeyEnv'],
  })
  .meta({
    description:
      "Budgets per end user of the company's app, keyed by the request's `safety_identifier` (else `user`): Chat Completions, Responses, Completions, Embeddings, image generations and moderations.",
  });
