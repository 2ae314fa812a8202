import { z } from 'zod';
import { tagsSchema } from './schema-budgets.js';
import { endUsersSchema } from './schema-end-users.js';
import { companyRealtimeSchema } from '../realtime/config.js';
import { apiKeySchema } from './schema-keys.js';
import { fallbackPriceSchema } from './schema-prices.js';
import { allocationSchema, jwtSchema, limitsSchema, timeZone } from './schema-parts.js';

/** A company: its keys, grants, user-token verification, limits (with per-user overrides) and time zone. */
export const companySchema = z
  .object({
    name: z
      .string()
      .min(1)
      .meta({ description: 'Display name.', examples: ['Acme Inc.'] }),
    timeZone: timeZone.default('UTC').meta({
      description: "The IANA time zone whose calendar days and months bound the company's daily and monthly quotas.",
      examples: ['Europe/Berlin'],
    }),
    keys: z.array(apiKeySchema).default([]).meta({ description: "The company's API keys, stored hashed." }),
    allocations: z.array(allocationSchema).default([]).meta({ description: "The company's grants (allocations)." }),
    jwt: jwtSchema.optional(),
    limits: z
      .object({
        user: limitsSchema.optional().meta({ description: 'For every user (by user token `sub`).' }),
        key: limitsSchema.optional().meta({ description: 'For every key.' }),
      })
      .strict()
      .optional()
      .meta({ description: 'Defaults for every user and every key of the company, on top of its grants.' }),
    users: z
      .record(z.string().min(1).meta({ title: 'user' }), limitsSchema)
      .default({})
      .meta({
        description: "Per-user overrides of `limits.user`, by user id (the token's `sub`), window by window.",
        examples: [{ alice: { quotas: { daily: { tokens: 250000 } } } }],
      }),
    fallbackPrices: z.array(fallbackPriceSchema).default([]).meta({
      description:
        "Models this company may call although tollgate has no price for them, each at an explicit price; the first entry naming a model applies, and its rows say `price_source = 'fallback'`.",
    }),
    endUsers: endUsersSchema.optional(),
    tags: tagsSchema.optional(),
    realtime: companyRealtimeSchema.optional(),
  })
  .strict()
  .meta({ description: 'Each has its keys, grants, user tokens, quotas, end users, tags and time zone.' });
