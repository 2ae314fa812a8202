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
    adminKeyEnv: envName.default('OPENAI_ADMIN_KEY'),
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.openai.com'),
    upstreamKeys: z
      .record(
        envName,
        z
          .object({
            projectId: z
              .string()
              .regex(/^proj_[A-Za-z0-9_-]+$/, 'expected an OpenAI project id, "proj_…"')
              .optional(),
            apiKeyId: z
              .string()
              .regex(/^key_[A-Za-z0-9_-]+$/, 'expected an OpenAI API key id, "key_…" (not the key itself)')
              .optional(),
          })
          .strict()
          .refine((m) => m.projectId !== undefined || m.apiKeyId !== undefined, {
            message: 'expected "projectId" and/or "apiKeyId"',
          }),
      )
      .default({}),
    threshold: z
      .object({
        percent: z.number().min(0).max(100).default(1),
        tokens: z.number().int().nonnegative().default(0),
        usd: z.number().nonnegative().default(0),
      })
      .strict()
      .default({ percent: 1, tokens: 0, usd: 0 }),
    schedule: z
      .object({
        at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a UTC time of day, "HH:MM"'),
        days: z.number().int().min(1).max(31).default(7),
      })
      .strict()
      .optional(),
  })
  .strict()
  .default({
    adminKeyEnv: 'OPENAI_ADMIN_KEY',
    baseUrl: 'https://api.openai.com',
    upstreamKeys: {},
    threshold: { percent: 1, tokens: 0, usd: 0 },
  });

/** The validated `reconciliation` section. */
export type ReconciliationConfig = z.output<typeof reconciliationSchema>;
