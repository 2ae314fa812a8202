import { createMiddleware } from 'hono/factory';
import type { Principal } from '../../auth/principal.js';
import type { OperatorConfig } from '../../config/schema.js';
import type { AppContext, AppEnv } from '../../http/env.js';

/** Who a session stands for: an operator, or a company principal (a key or a user). */
export type SessionIdentity =
  | { kind: 'operator'; operator: OperatorConfig }
  | { kind: 'principal'; principal: Principal };

export interface SessionCookieOptions {
  /** The identity of the request's session cookie, or undefined (none, expired, or its credential gone). */
  identify: (c: AppContext) => Promise<SessionIdentity | undefined>;
}

/**
 * Session-cookie authentication for reads: a GET (or HEAD) without an `Authorization` header is
 * identified by its session cookie, setting `operator` or `principal` as the bearer and operator
 * middleware would; any other request passes untouched. Other methods never authenticate by cookie,
 * so a cross-site form cannot act with it.
 */
export function sessionCookie(opts: SessionCookieOptions) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if ((c.req.method === 'GET' || c.req.method === 'HEAD') && c.req.header('authorization') === undefined) {
      const who = await opts.identify(c);
      if (who?.kind === 'operator') c.set('operator', who.operator);
      else if (who) c.set('principal', who.principal);
    }
    return next();
  });
}
