import { createMiddleware } from 'hono/factory';
import { answerDenial } from '../../http/openai-error.js';
import { requestHeader, type AppEnv, type OnDenied } from '../../http/env.js';

export interface BodyLimitOptions {
  /** Largest body accepted, bytes. */
  maxBytes: number;
  onDenied?: OnDenied;
}

/**
 * Body limit, by the declared `content-length`: a larger body is refused with 413
 * `request_too_large` before a byte of it is read. A body without a length (chunked) is bounded
 * as it is read (http/body.ts `readBody`) with the same limit.
 */
export function bodyLimit(opts: BodyLimitOptions) {
  const onDenied = opts.onDenied ?? answerDenial;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (Number(requestHeader(c, 'content-length')) > opts.maxBytes)
      return onDenied(c, { kind: 'too_large', limitBytes: opts.maxBytes });
    return next();
  });
}
