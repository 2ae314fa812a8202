import { z } from 'zod';

/**
 * The budget parts of a company's config: how an allocation renews (`every`, `rollover`), the order
 * grants burn in (`priority`) and spend tags (`tags`); limits per end user are in schema-end-users.ts.
 * docs/budgets.md explains each with an example.
 */

/** The calendar period a recurring allocation renews on, in the company's `timeZone`. */
export const everySchema = z.enum(['day', 'week', 'month']).meta({
  description:
    "Renew the allocation at the start of every calendar day, ISO week (from Monday) or month in the company's `timeZone`: each period is a grant of its own, `<id>@<period>` (e.g. `acme-monthly@2026-11`), created once whatever the number of replicas.",
  examples: ['month'],
});

/** Lower burns first; grants of equal priority burn soonest expiry first, then oldest. Source of the convention: OpenMeter's grants. */
export const prioritySchema = z
  .number()
  .int()
  .min(0)
  .max(1000)
  .meta({
    description:
      'Burn order between grants: a lower number burns first (default 1). Grants of equal priority burn the soonest to expire first, then the oldest. An unlimited grant covering the model always burns first.',
    examples: [0],
  });

/** What a recurring allocation carries into its next period. */
export const rolloverSchema = z
  .object({
    max: z
      .number()
      .nonnegative()
      .meta({
        description:
          "At most this much of what is left at the end of a period (in the allocation's unit: tokens, or USD) is carried into the next, as a grant of its own (`<id>@<period>.rollover`).",
        examples: [200000],
      }),
    expiresAfter: z
      .object({
        unit: everySchema.meta({ description: 'The calendar unit.', examples: ['month'] }),
        count: z
          .number()
          .int()
          .min(1)
          .max(120)
          .meta({ description: 'How many units.', examples: [1] }),
      })
      .strict()
      .optional()
      .meta({
        description:
          'How long the carried grant lasts from the start of the period it is carried into. Default: one period of the allocation (it expires with that period).',
      }),
  })
  .strict()
  .meta({
    description:
      'Carry unused tokens (or USD) into the next period, capped. What is still held by requests in flight at the boundary counts as used.',
  });

/** Spend tags: where a request's tags come from, and how many and how long they may be. */
export const tagsSchema = z
  .object({
    fromMetadata: z
      .array(z.string().min(1).max(64))
      .max(16)
      .default([])
      .meta({
        description:
          "Keys of the request body's `metadata` whose string values become tags `<key>:<value>` (e.g. `team` gives `team:search`), besides the `x-tollgate-tags` header.",
        examples: [['team', 'feature']],
      }),
    maxCount: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(10)
      .meta({ description: 'Most tags one request may carry; more is refused (400 `invalid_tags`).', examples: [10] }),
    maxLength: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(64)
      .meta({
        description: 'Longest tag, in characters; a longer one is refused (400 `invalid_tags`).',
        examples: [64],
      }),
  })
  .strict()
  .meta({ description: 'Spend tags, for cost attribution in reports.' });

/** The tag settings of a company that names none. */
export const DEFAULT_TAGS = { fromMetadata: [] as string[], maxCount: 10, maxLength: 64 };
