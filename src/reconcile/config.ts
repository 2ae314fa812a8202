import { z } from 'zod';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/**
 * The config's `reconciliation` section: comparing the ledger with OpenAI's own usage and costs
 * (`tollgate reconcile`, and daily under `serve` when `schedule` is set; see docs/reconciliation.md).
 * - `adminKeyEnv`: the environment variable holding an OpenAI Admin API key (`sk-admin-…`, read
 *   access to Usage); never written to the ledger or the logs. Default `OPENAI_ADMIN_KEY`.
 * - `baseUrl`: where the Admin API lives (default `https://api.openai.com`).
 * - `upstreamKeys`: which OpenAI project (`proj_…`) and API key (`key_…`) each of tollgate's upstream
 *   keys is, by the environment variable that holds it (`upstream.apiKeyEnv`, e.g. `OPENAI_API_KEY`).
 *   With `apiKeyId`, only that key's usage is compared and anything else is "outside"; with
 *   `projectId` alone, the project's; with neither, the whole organization's.
 * - `threshold`: a measure drifts beyond it when |ledger − OpenAI| exceeds `percent` % of OpenAI's
 *   figure and its floor (`tokens` for token measures, `usd` for cost). Default 1 %, no floors.
 * - `schedule`: run daily at `at` (`HH:MM`, UTC) over the last `days` UTC days (today included,
 *   provisional), keep the result in the ledger and fire a `reconciliation_drift` alert beyond the threshold.
 */
export const reconciliationSchema = z
  .object({
    adminKeyEnv: envName.default('OPENAI_ADMIN_KEY').meta({
      description:
        'The environment variable holding an OpenAI Admin API key (`sk-admin-…`, read access to Usage); never written to the ledger or the logs.',
      examples: ['OPENAI_ADMIN_KEY'],
    }),
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .default('https://api.openai.com')
      .meta({ description: "Where OpenAI's Admin API lives.", examples: ['https://api.openai.com'] }),
    upstreamKeys: z
      .record(
        envName,
        z
          .object({
            projectId: z
              .string()
              .regex(/^proj_[A-Za-z0-9_-]+$/, 'expected an OpenAI project id, "proj_…"')
              .optional()
              .meta({ description: 'The OpenAI project this upstream key belongs to.', examples: ['proj_abc123'] }),
            apiKeyId: z
              .string()
              .regex(/^key_[A-Za-z0-9_-]+$/, 'expected an OpenAI API key id, "key_…" (not the key itself)')
              .optional()
              .meta({
                description:
                  "The OpenAI API key id of this upstream key (not the key itself): only that key's usage is compared, anything else is shown as outside.",
                examples: ['key_abc123'],
              }),
          })
          .strict()
          .refine((m) => m.projectId !== undefined || m.apiKeyId !== undefined, {
            message: 'expected "projectId" and/or "apiKeyId"',
          }),
      )
      .default({})
      .meta({
        description:
          "Which OpenAI project and API key each of tollgate's upstream keys is, by the environment variable that holds it (`upstream.apiKeyEnv`). With neither, the whole organization's usage is compared.",
        examples: [{ OPENAI_API_KEY: { projectId: 'proj_abc123', apiKeyId: 'key_abc123' } }],
      }),
    threshold: z
      .object({
        percent: z
          .number()
          .min(0)
          .max(100)
          .default(1)
          .meta({ description: "Drift beyond this share of OpenAI's figure counts.", unit: 'percent', examples: [1] }),
        tokens: z
          .number()
          .int()
          .nonnegative()
          .default(0)
          .meta({ description: 'Token drift at or below this never counts.', unit: 'tokens', examples: [1000] }),
        usd: z
          .number()
          .nonnegative()
          .default(0)
          .meta({ description: 'Cost drift at or below this never counts.', unit: 'USD', examples: [0.5] }),
      })
      .strict()
      .default({ percent: 1, tokens: 0, usd: 0 })
      .meta({
        description:
          "A measure drifts beyond the threshold when |ledger − OpenAI| exceeds `percent` of OpenAI's figure and its floor (`tokens`, `usd`).",
      }),
    schedule: z
      .object({
        at: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a UTC time of day, "HH:MM"')
          .meta({ description: 'When to run each day, UTC.', examples: ['02:30'] }),
        days: z
          .number()
          .int()
          .min(1)
          .max(31)
          .default(7)
          .meta({
            description: 'How many UTC days back each run compares (today included, provisional).',
            unit: 'days',
            examples: [7],
          }),
      })
      .strict()
      .optional()
      .meta({
        description:
          'Run daily under `serve`: keep each result in the ledger (shown on the dashboard) and fire a `reconciliation_drift` alert beyond the threshold.',
      }),
  })
  .strict()
  .default({
    adminKeyEnv: 'OPENAI_ADMIN_KEY',
    baseUrl: 'https://api.openai.com',
    upstreamKeys: {},
    threshold: { percent: 1, tokens: 0, usd: 0 },
  })
  .meta({ description: "Comparing the ledger with OpenAI's own usage and costs (`tollgate reconcile`)." });

/** The validated `reconciliation` section. */
export type ReconciliationConfig = z.output<typeof reconciliationSchema>;
