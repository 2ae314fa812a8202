import { createMiddleware } from 'hono/factory';
import { operatorOf } from '../../auth/operator.js';
import type { OperatorConfig } from '../../config/schema.js';
import { answerDenial } from '../../http/openai-error.js';
import { requestHeader, type AppContext, type AppEnv, type OnDenied } from '../../http/env.js';

export interface OperatorAuthOptions {
  /** The config's operators, read on every request (a reload applies at once). */
  operators: () => readonly OperatorConfig[] | undefined;
  clock: () => Date;
  /**
   * `true`: only an operator key passes (401 otherwise). `false`: an operator key is recognised and
   * set, anything else passes on to the next authentication. A function is asked per request.
   */
  required: boolean | (() => boolean);
  /** Checks nothing at all when this returns false (e.g. `/metrics` without `metrics.requireAuth`). */
  when?: () => boolean;
  /** Lets a request through untouched when this returns true (e.g. a session cookie already identified it). */
  skip?: (c: AppContext) => boolean;
  onDenied?: OnDenied;
}

/**
 * Operator authentication: an operator key (config `operators`, matched by SHA-256) sets
 * `operator`; a revoked or expired one is refused with 401 `invalid_api_key`.
 */
export function operatorAuth(opts: OperatorAuthOptions) {
  const onDenied = opts.onDenied ?? answerDenial;
  return createMiddleware<AppEnv>(async (c, next) => {
    if ((opts.when && !opts.when()) || opts.skip?.(c)) return next();
    const op = operatorOf(opts.operators(), requestHeader(c, 'authorization'), opts.clock());
    if (op && 'kind' in op) return onDenied(c, op);
    const required = typeof opts.required === 'function' ? opts.required() : opts.required;
    if (!op && required) return onDenied(c, { kind: 'invalid_api_key', reason: 'operator_required' });
    c.set('operator', op);
    return next();
  });
}
