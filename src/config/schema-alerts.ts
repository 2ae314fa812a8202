import { z } from 'zod';
import { tokens } from './schema-parts.js';

/** A share strictly between 0 and 1. */
const fraction = z.number().gt(0).lt(1);

/** The `alerts` part of `proxy.config.json`: quota, balance and spike thresholds (fractions), and the webhook. */
export const alertsSchema = z
  .object({
    webhookUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .meta({
        description: 'Where alerts are POSTed as JSON; without it they are only logged and stored.',
        examples: ['https://ops.acme.com/hooks/tollgate'],
      }),
    webhookSecretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .meta({
        description: 'The env var holding the HMAC-SHA256 secret that signs webhook bodies (`x-tollgate-signature`).',
        examples: ['TOLLGATE_WEBHOOK_SECRET'],
      }),
    quotaThresholds: z
      .tuple([fraction, fraction])
      .default([0.8, 0.95])
      .meta({
        description: 'The shares of a quota used at which `quota_warning` and `quota_critical` fire.',
        unit: 'fractions',
        examples: [[0.75, 0.9]],
      }),
    lowBalanceThresholds: z
      .tuple([fraction, fraction])
      .default([0.1, 0.05])
      .meta({
        description: 'The shares of a grant left at which `low_balance_warning` and `low_balance_critical` fire.',
        unit: 'fractions',
        examples: [[0.2, 0.1]],
      }),
    spike: z
      .object({
        multiple: z
          .number()
          .gt(1)
          .default(5)
          .meta({
            description: "How many times the user's average minute a minute must reach.",
            unit: 'times',
            examples: [10],
          }),
        windowMinutes: z
          .number()
          .int()
          .min(2)
          .max(1440)
          .default(60)
          .meta({
            description: 'The trailing window the average minute is taken over.',
            unit: 'minutes',
            examples: [120],
          }),
        minTokens: tokens
          .default(1000)
          .meta({ description: 'A minute below this never fires one.', unit: 'tokens', examples: [5000] }),
        minHistoryMinutes: z
          .number()
          .int()
          .min(1)
          .max(1440)
          .default(30)
          .meta({
            description:
              'How long tollgate must have seen the user first, so a try-out never fires one (the history is in memory).',
            unit: 'minutes',
            examples: [60],
          }),
      })
      .strict()
      .default({ multiple: 5, windowMinutes: 60, minTokens: 1000, minHistoryMinutes: 30 })
      .meta({
        description:
          "`usage_spike`: a user's (or key's) tokens in one minute above `multiple` × their average minute over the trailing `windowMinutes`.",
      }),
  })
  .strict()
  .default({
    quotaThresholds: [0.8, 0.95],
    lowBalanceThresholds: [0.1, 0.05],
    spike: { multiple: 5, windowMinutes: 60, minTokens: 1000, minHistoryMinutes: 30 },
  })
  .meta({ description: 'Threshold and spike alerts: logged, stored, and POSTed to a webhook.' });
