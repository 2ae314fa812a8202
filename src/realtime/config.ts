import { z } from 'zod';

/**
 * The config's `realtime` section: how Realtime sessions (`GET /v1/realtime`, WebSocket) are held
 * and cut off. Tokens are the session model's tokens, after any feature rate.
 * - `leaseTokens`: the hold each response of a session is admitted on (the session's opening hold
 *   is its first response's lease). A lease is renewed after every response.
 * - `minLeaseTokens`: when the grants or a quota cannot cover a whole lease, what is left is held
 *   as long as it is at least this; below it the session is cut off.
 * - `maxSessionSeconds`: a session is closed (after its response in flight) once this old.
 * - `clientSecrets`: `refuse` (default) answers `POST /v1/realtime/client_secrets` and the older
 *   `/v1/realtime/sessions` and `/v1/realtime/transcription_sessions` with a 400, because a browser
 *   using such a secret talks to OpenAI directly and tollgate cannot meter it; `allow_unlimited`
 *   forwards them for companies with an unlimited grant covering the model (recorded unbilled).
 */
export const realtimeSchema = z
  .object({
    leaseTokens: z
      .number()
      .int()
      .positive()
      .default(16_384)
      .meta({
        description: 'The hold each response of a session is admitted on, renewed after every response.',
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
          'When less than a lease is left, what is left is held, down to this; below it the session is cut off.',
        unit: 'tokens',
        examples: [2048],
      }),
    maxSessionSeconds: z
      .number()
      .int()
      .positive()
      .default(3_600)
      .meta({
        description: "A session is closed (after its response in flight) once this old; OpenAI's own limit is an hour.",
        unit: 'seconds',
        examples: [1800],
      }),
    clientSecrets: z.enum(['refuse', 'allow_unlimited']).default('refuse').meta({
      description:
        "Ephemeral secrets (`POST /v1/realtime/client_secrets`, `/v1/realtime/sessions`, `/v1/realtime/transcription_sessions`) let a browser talk to OpenAI directly, unmetered: `refuse` answers 400 `unmeterable_session`; `allow_unlimited` forwards them for a company whose active unlimited grant covers the session's model, on an unbilled row.",
    }),
  })
  .strict()
  .default({ leaseTokens: 16_384, minLeaseTokens: 1_024, maxSessionSeconds: 3_600, clientSecrets: 'refuse' })
  .meta({ description: 'Realtime sessions (`/v1/realtime` over WebSocket): how they are held and cut off.' });

/** The validated `realtime` section. */
export type RealtimeConfig = z.output<typeof realtimeSchema>;
