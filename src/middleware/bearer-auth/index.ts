import { createMiddleware } from 'hono/factory';
import type { KeyIndex } from '../../auth/api-key.js';
import { authenticateBearer } from '../../auth/authenticate.js';
import type { JwtVerifier } from '../../auth/jwt.js';
import { answerDenial } from '../../http/openai-error.js';
import { requestHeader, type AppContext, type AppEnv, type OnDenied } from '../../http/env.js';

/** Where bearer-auth looks credentials up: read on every request, so a config reload applies at once. */
export interface Credentials {
  keys: KeyIndex;
  jwt: JwtVerifier;
}

export interface BearerAuthOptions {
  credentials: Credentials;
  /** The current instant (UTC). */
  clock: () => Date;
  /** Answers the 401; default: the OpenAI-shaped error only. */
  onDenied?: OnDenied;
  /** Lets a request through unauthenticated here (e.g. operator-auth already identified it). */
  skip?: (c: AppContext) => boolean;
}

/**
 * Bearer authentication: resolves `Authorization: Bearer <company key | user JWT>` to a principal
 * (auth/authenticate.ts) and sets it as `principal`; refuses with 401 `invalid_api_key`, naming
 * why (missing, unknown, revoked, expired, invalid token).
 */
export function bearerAuth(opts: BearerAuthOptions) {
  const onDenied = opts.onDenied ?? answerDenial;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (opts.skip?.(c)) return next();
    const now = opts.clock();
    const result = await authenticateBearer(
      opts.credentials.keys,
      opts.credentials.jwt,
      requestHeader(c, 'authorization'),
      now,
    );
    if (typeof result === 'string') return onDenied(c, { kind: 'invalid_api_key', reason: result });
    c.set('principal', result);
    return next();
  });
}
