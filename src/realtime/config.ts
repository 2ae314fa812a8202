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
    leaseTokens: z
      .number()
      .int()
      .positive()
      .default(16_384)
      .meta({
        description:
          'The hold each response is admitted on: a `response.create` is leased before it goes upstream, and the session keeps one standby lease while its turn detection starts responses.',
        unit: 'tokens',
        examples: [32768],
      }),
    minLeaseTokens: z
      .number()
      .int()
      .positive()
      .default(1_024)
      .meta({
        description:
          'When less than a lease is left, what is left is held, down to this; below it the create is refused with an `insufficient_quota` error event.',
        unit: 'tokens',
        examples: [2048],
      }),
    maxSessionSeconds: z
      .number()
      .int()
      .positive()
      .default(3_600)
      .meta({
        description:
          "A session is closed (after its responses in flight) once this old; OpenAI's own limit is an hour.",
        unit: 'seconds',
        examples: [1800],
      }),
    clientSecrets: clientSecretsMode.default('refuse').meta({
      description:
        "Every company's default for `POST /v1/realtime/client_secrets`: `mint` issues tollgate's own short-lived, single-use secret (a browser uses it in place of a key; the session is metered), `refuse` answers 400 `client_secrets_disabled`. A company's `realtime.clientSecrets` overrides it.",
    }),
    clientSecretMaxSeconds: secretSeconds.default(600).meta({
      description:
        "The longest lifetime a minted client secret may have (`expires_after.seconds`); OpenAI's default is 600.",
      unit: 'seconds',
      examples: [300],
    }),
  })
  .strict()
  .default({
    leaseTokens: 16_384,
    minLeaseTokens: 1_024,
    maxSessionSeconds: 3_600,
    clientSecrets: 'refuse',
    clientSecretMaxSeconds: 600,
  })
  .meta({
    description:
      'Realtime sessions (`/v1/realtime` over WebSocket, WebRTC calls): how they are held and cut off, and client secrets.',
  });

/**
 * A company's own `realtime` section: `clientSecrets` (`refuse` / `mint`, overriding the global
 * default), `clientSecretMaxSeconds` (at most the global one), `clientSecretModels` (the only
 * models a minted secret may name, by name or family; absent: any model the grants cover).
 */
export const companyRealtimeSchema = z
  .object({
    clientSecrets: clientSecretsMode.optional().meta({
      description: "This company's `refuse` / `mint`, overriding `realtime.clientSecrets`.",
      examples: ['mint'],
    }),
    clientSecretMaxSeconds: secretSeconds.optional().meta({
      description: "This company's longest secret lifetime (at most `realtime.clientSecretMaxSeconds`).",
      unit: 'seconds',
      examples: [120],
    }),
    clientSecretModels: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({
        description: "The only models this company's client secrets may name (by name or family); absent: any.",
        examples: [['gpt-realtime-1.5']],
      }),
  })
  .strict()
  .meta({ description: 'Realtime client secrets for this company (see `realtime`).' });

/** The validated `realtime` section. */
export type RealtimeConfig = z.output<typeof realtimeSchema>;
/** A company's validated `realtime` section. */
export type CompanyRealtimeConfig = z.output<typeof companyRealtimeSchema>;
