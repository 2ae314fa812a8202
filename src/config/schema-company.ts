import { z } from 'zod';
import { tagsSchema } from './schema-budgets.js';
import { endUsersSchema } from './schema-end-users.js';
import {
  allocationSchema,
  apiKeySchema,
  fallbackPriceSchema,
  jwtSchema,
  limitsSchema,
  timeZone,
} from './schema-parts.js';

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
    endUsers: endUsersSchema.optional(),
    tags: tagsSchema.optional(),
  })
  .strict();
