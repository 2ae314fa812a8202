import { performance } from 'node:perf_hooks';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../http/env.js';

/**
 * Request timing: sets `started` (`performance.now()`, ms, for the admission and request-duration
 * histograms) and `now` (one reading of `clock`, the instant the whole admission uses: key expiry,
 * quota windows, prices).
 */
export function requestTiming(opts: { clock: () => Date }) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set('started', performance.now());
    c.set('now', opts.clock());
    return next();
  });
}
