import { performance } from 'node:perf_hooks';
import type { Hono } from 'hono';
import { authenticateBearer } from '../auth/authenticate.js';
import { readBody } from '../http/body.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import type { AppContext, AppEnv } from '../http/env.js';
import { refused } from '../proxy/refused.js';
import type { Runtime } from '../runtime.js';
import { createCall, hangUpCall } from './calls.js';
import { MAX_SECRET_BODY, mintClientSecret } from './client-secrets.js';

/**
 * tollgate's own answers under `/v1/realtime/…` over HTTP (the WebSocket is `upgrade.ts`), mounted
 * before the `/v1` proxy so that no such request is ever passed through to the upstream on
 * tollgate's key:
 * - `POST /v1/realtime/client_secrets`: mints a tollgate client secret (`client-secrets.ts`);
 * - `POST /v1/realtime/sessions`, `POST /v1/realtime/transcription_sessions` (the beta's way to
 *   mint upstream secrets): refused, pointing to the GA endpoint;
 * - `POST /v1/realtime/calls`: a WebRTC call, relayed and metered (`calls.ts`); open to browsers
 *   of any origin (CORS), as a browser posts its offer itself with a client secret;
 * - `POST /v1/realtime/calls/{call_id}/hangup`: hangs up a call the caller's company made;
 * - anything else under `/v1/realtime/` (SIP's accept, refer, reject): 404.
 */
export function realtimeRoutes(app: Hono<AppEnv>, rt: Runtime): void {
  app.all('/v1/realtime/*', async (c) => {
    const started = performance.now();
    const now = rt.clock();
    const path = c.req.path.replace(/\/+$/, '');
    const method = c.req.method;
    const answer = (denial: Denial, companyId: string | null = null) => refused(rt, path, companyId, denial, started);
    const notFound = () =>
      answer({ kind: 'not_found', message: `Invalid URL (${method} ${c.req.path})`, param: null, code: null });
    const hangup = /^\/v1\/realtime\/calls\/([^/]+)\/hangup$/.exec(path);
    const known =
      hangup ||
      [
        '/v1/realtime/client_secrets',
        '/v1/realtime/calls',
        '/v1/realtime/sessions',
        '/v1/realtime/transcription_sessions',
      ].includes(path);
    if (!known) return notFound();
    if (path === '/v1/realtime/calls') {
      // A browser posts its offer itself, with a client secret: answered to any origin (the credential is a header, never a cookie).
      if (method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_PREFLIGHT });
      const res =
        method === 'POST'
          ? await createCall(rt, c, started, now)
          : answer({ kind: 'method_not_allowed', message: `${method} is not supported; use POST.`, allow: 'POST' });
      for (const [name, value] of Object.entries(CORS)) res.headers.set(name, value);
      return res;
    }
    if (method !== 'POST')
      return answer({ kind: 'method_not_allowed', message: `${method} is not supported; use POST.`, allow: 'POST' });
    const principal = await authenticateBearer(rt.keys, rt.jwt, header(c, 'authorization'), now);
    if (typeof principal === 'string') return answer({ kind: 'invalid_api_key', reason: principal });
    if (hangup) return hangUpCall(rt, principal, decodeURIComponent(hangup[1]!), (d) => answer(d, principal.companyId));
    if (path !== '/v1/realtime/client_secrets')
      return answer(
        invalidRequest(
          `${path} mints an upstream secret, with which a browser would talk to the upstream directly and unmetered. Use POST /v1/realtime/client_secrets: tollgate mints its own client secrets where your administrator enabled them.`,
          null,
          'unmeterable_session',
        ),
        principal.companyId,
      );
    const raw = await readBody(c.env.incoming, MAX_SECRET_BODY);
    if (raw === 'too_large') return answer({ kind: 'too_large', limitBytes: MAX_SECRET_BODY }, principal.companyId);
    const minted = await mintClientSecret(rt, principal, raw, now);
    if (isDenial(minted)) return answer(minted, principal.companyId);
    rt.metrics?.admission(path, performance.now() - started);
    return new Response(JSON.stringify(minted), {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    });
  });
}

/** CORS for `POST /v1/realtime/calls`: any origin; the browser may read the call's `Location` and tollgate's ids. */
const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'location, x-tollgate-session-id, x-tollgate-request-id',
};
const CORS_PREFLIGHT: Record<string, string> = {
  ...CORS,
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'authorization, content-type, x-tollgate-feature',
  'access-control-max-age': '600',
};

/** A request header's first value. */
export function header(c: AppContext, name: string): string | undefined {
  const v = c.env.incoming.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
