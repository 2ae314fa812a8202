import { z } from 'zod';

/**
 * Whether a company may have tollgate mint Realtime client secrets (`POST /v1/realtime/client_secrets`):
 * `mint` — tollgate issues a short-lived, single-use secret of its own; `refuse` — a 400.
 */
const clientSecretsMode = z.enum(['refuse', 'mint'], {
  error: (issue) =>
    issue.input === 'allow_unlimited'
      ? '"allow_unlimited" was removed: it handed the upstream\'s own secret to the browser, which then bypassed tollgate. Use "mint": tollgate issues its own client secrets and meters the sessions they open.'
      : 'expected "refuse" or "mint"',
});

/** Longest lifetime of a client secret OpenAI allows (`expires_after.seconds`: 10–7200 s). */
const secretSeconds = z.number().int().min(10).max(7200);

/**
 * The config's `realtime` section: how Realtime sessions (`GET /v1/realtime` over WebSocket, and
 * WebRTC calls, `POST /v1/realtime/calls`) are held and cut off. Tokens are the session model's
 * tokens, after any feature rate.
 * - `leaseTokens`: the hold each response is admitted on (a `response.create` is leased before it
 *   goes upstream; the session's opening hold is its standby lease).
 * - `minLeaseTokens`: when the grants or a quota cannot cover a whole lease, what is left is held
 *   as long as it is at least this; below it the create is refused (`insufficient_quota`).
 * - `maxSessionSeconds`: a session is closed (after its responses in flight) once this old.
 * - `clientSecrets`: every company's default for minting client secrets (`refuse`, or `mint`; a
 *   company's own `realtime.clientSecrets` overrides it).
 * - `clientSecretMaxSeconds`: the longest lifetime a minted secret may have (seconds, 10–7200;
 *   600 by default, as OpenAI's); a company may lower it.
 */
export const realtimeSchema = z
  .object({
    leaseTokens: z.number().int().positive().default(16_384),
    minLeaseTokens: z.number().int().positive().default(1_024),
    maxSessionSeconds: z.number().int().positive().default(3_600),
    clientSecrets: clientSecretsMode.default('refuse'),
    clientSecretMaxSeconds: secretSeconds.default(600),
  })
  .strict()
  .default({
    leaseTokens: 16_384,
    minLeaseTokens: 1_024,
    maxSessionSeconds: 3_600,
    clientSecrets: 'refuse',
    clientSecretMaxSeconds: 600,
  });

/**
 * A company's own `realtime` section: `clientSecrets` (`refuse` / `mint`, overriding the global
 * default), `clientSecretMaxSeconds` (at most the global one), `clientSecretModels` (the only
 * models a minted secret may name, by name or family; absent: any model the grants cover).
 */
export const companyRealtimeSchema = z
  .object({
    clientSecrets: clientSecretsMode.optional(),
    clientSecretMaxSeconds: secretSeconds.optional(),
    clientSecretModels: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** The validated `realtime` section. */
export type RealtimeConfig = z.output<typeof realtimeSchema>;
/** A company's validated `realtime` section. */
export type CompanyRealtimeConfig = z.output<typeof companyRealtimeSchema>;
