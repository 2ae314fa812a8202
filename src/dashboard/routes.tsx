/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { isDenial } from '../http/denial.js';
import type { AppEnv } from '../http/env.js';
import { toOpenAIError } from '../http/openai-error.js';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { decodeJwt } from 'jose';
import { bearerToken } from '../auth/api-key.js';
import { JwtVerifier } from '../auth/jwt.js';
import { authenticateReader } from '../api/read.js';
import { fileQuotaRequest } from '../api/quota-requests.js';
import type { Runtime } from '../runtime.js';
import { assetRoutes } from './assets.js';
import { ApiError, apiClient, type List, type OverviewJson } from './data.js';
import { SESSION_COOKIE, type Session, type SessionSubject } from './session.js';
import { sessionOf, sessionsOf, type SessionReader } from './session-reader.js';
import { loadAdmin, AdminView } from './views/admin.js';
import { Content, ErrorPage, Page, SignIn, type Identity } from './views/layout.js';
import { OperatorView } from './views/operator.js';
import { loadReconciliation } from './views/reconciliation.js';
import type { FilterState } from './views/parts.js';
import { loadUser, UserView } from './views/user.js';

/**
 * The web dashboard at `/dashboard`, served by tollgate on its own port: server-rendered HTML
 * (hono/jsx) built from the read API's JSON, one client script and Chart.js from
 * `/dashboard/assets/`. Routes:
 *
 * - `GET /dashboard` — the caller's view (user, company admin, or operator; `?company=` opens a
 *   company's admin view for an operator), filtered by `period`, `user`, `model`, `endpoint`. With
 *   `x-tollgate-fragment: 1` only `main#content` is sent: the client script's 30-second refresh,
 *   which patches its data regions in place.
 * - `GET|POST /dashboard/sign-in` — exchange a company key, user token or operator key for the
 *   session cookie; `POST /dashboard/sign-out`; `GET /dashboard/link?token=` — a one-time link.
 * - `POST /dashboard/quota-requests` — the quota-increase form.
 *
 * Every POST carries a CSRF token (the session's, or for sign-in the `tg_signin` cookie's); every
 * response has a strict Content-Security-Policy (`script-src 'self'`, no inline script or style).
 */
export function dashboardRoutes(app: Hono<AppEnv>, rt: Runtime): void {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    referrerPolicy: 'no-referrer',
    xFrameOptions: 'DENY',
  });
  app.use('/dashboard', headers);
  app.use('/dashboard/*', headers);
  assetRoutes(app);

  const secure = (c: Context) => new URL(c.req.url).protocol === 'https:';
  const startSession = async (c: Context, subject: SessionSubject, notAfter: Date | null) => {
    const { token, session } = await sessionsOf(rt).issue(subject, rt.clock(), notAfter);
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: secure(c),
      expires: session.expiresAt,
    });
    return c.redirect('/dashboard', 303);
  };

  app.get('/dashboard/sign-in', (c) => {
    const csrf = randomBytes(18).toString('base64url');
    setCookie(c, 'tg_signin', csrf, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/dashboard',
      secure: secure(c),
      maxAge: 3600,
    });
    return c.html(<SignIn csrf={csrf} />);
  });

  app.post('/dashboard/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const expected = getCookie(c, 'tg_signin');
    const csrf = typeof form.csrf === 'string' ? form.csrf : '';
    const again = (status: 400 | 401, error: string) => c.html(<SignIn csrf={expected ?? ''} error={error} />, status);
    if (!expected || csrf !== expected) return again(400, 'This form expired. Reload the page and sign in again.');
    const credential = typeof form.credential === 'string' ? form.credential.trim() : '';
    if (!credential) return again(400, 'Enter an API key, a user token or an operator key.');
    const now = rt.clock();
    const reader = await authenticateReader(rt, `Bearer ${credential}`, now);
    if (isDenial(reader)) return again(401, 'That key or token was not accepted (unknown, revoked or expired).');
    deleteCookie(c, 'tg_signin', { path: '/dashboard' });
    if (reader.kind === 'operator')
      return startSession(c, { kind: 'operator', operatorId: reader.operator.id }, reader.operator.expiresAt ?? null);
    const p = reader.principal;
    let notAfter: Date | null = null;
    if (p.keyId) notAfter = rt.keys.key(p.keyId)?.expiresAt ?? null;
    else if (JwtVerifier.looksLikeJwt(bearerToken(`Bearer ${credential}`) ?? ''))
      notAfter = new Date(decodeJwt(credential).exp! * 1000);
    return startSession(
      c,
      {
        kind: 'principal',
        companyId: p.companyId,
        keyId: p.keyId,
        userId: p.userId,
        role: p.role,
        sessionId: p.sessionId,
      },
      notAfter,
    );
  });

  app.get('/dashboard/link', async (c) => {
    const subject = await sessionsOf(rt).redeem(c.req.query('token') ?? '', rt.clock());
    if (!subject)
      return c.html(
        <ErrorPage
          status={401}
          message="This sign-in link is invalid, has expired or was already used. Ask for a new one."
        />,
        401,
      );
    return startSession(c, subject, null);
  });

  app.post('/dashboard/sign-out', async (c) => {
    const s = await sessionOf(rt, c, rt.clock());
    const form = await c.req.parseBody();
    if (s && form.csrf !== s.session.csrf)
      return c.html(<ErrorPage status={400} message="This form expired. Reload the page and try again." />, 400);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/dashboard/sign-in', 303);
  });

  app.post('/dashboard/quota-requests', async (c) => {
    const s = await sessionOf(rt, c, rt.clock());
    if (!s) return c.redirect('/dashboard/sign-in', 303);
    const form = await c.req.parseBody();
    const who = identity(rt, s.reader, s.session);
    if (form.csrf !== s.session.csrf)
      return c.html(
        <ErrorPage status={400} message="This form expired. Reload the page and try again." who={who} />,
        400,
      );
    if (s.reader.kind !== 'principal')
      return c.html(<ErrorPage status={403} message="Operators have no quotas to raise." who={who} />, 403);
    const tokens = typeof form.tokens === 'string' && form.tokens.trim() !== '' ? Number(form.tokens) : undefined;
    const filed = await fileQuotaRequest(rt, s.reader.principal, {
      justification: form.justification,
      window: form.window || undefined,
      ...(tokens === undefined ? {} : { tokens }),
    });
    if (isDenial(filed))
      return c.html(
        <ErrorPage status={400} message={`The request was not sent: ${toOpenAIError(filed).body.message}`} who={who} />,
        400,
      );
    return c.redirect('/dashboard#increase', 303);
  });

  app.get('/dashboard', async (c) => {
    const now = rt.clock();
    const fragment = c.req.header('x-tollgate-fragment') === '1';
    const s = await sessionOf(rt, c, now);
    if (!s) return fragment ? c.text('Sign in again.', 401) : c.redirect('/dashboard/sign-in', 303);
    const who = identity(rt, s.reader, s.session);
    const q = c.req.query();
    const period = q.period ?? '7d';
    if (period !== '7d' && period !== '30d' && period !== '90d')
      return c.html(<ErrorPage status={400} message="period: expected 7d, 30d or 90d." who={who} />, 400);
    const state: FilterState = {
      period,
      user: q.user || undefined,
      model: q.model || undefined,
      endpoint: q.endpoint || undefined,
      tag: q.tag || undefined,
      company: q.company || undefined,
    };
    const api = apiClient(app, getCookie(c, SESSION_COOKIE)!);
    try {
      const { title, body, timeZone } = await view(rt, s.reader, api, state, s.session, now);
      const content = (
        <Content title={title} updated={now.toISOString()} timeZone={timeZone}>
          {body}
        </Content>
      );
      return c.html(
        fragment ? (
          content
        ) : (
          <Page title={title} who={who}>
            {content}
          </Page>
        ),
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // The ledger's failures (a report past its budget, a ledger that cannot answer) are not the reader's.
      const status = err.status >= 500 ? 503 : err.status === 403 ? 403 : err.status === 404 ? 404 : 400;
      return c.html(<ErrorPage status={status} message={err.message} who={who} />, status);
    }
  });
}

/** The header's identity line and the CSRF token of the session. */
function identity(rt: Runtime, reader: SessionReader, session: Session): Identity {
  if (reader.kind === 'operator')
    return { label: `operator ${reader.operator.id}`, role: 'operator', csrf: session.csrf };
  const p = reader.principal;
  const name = rt.config.companies[p.companyId]?.name ?? p.companyId;
  const who = p.userId ?? (p.keyId ? `key ${p.keyId}` : 'company');
  return { label: `${who} · ${name} (${p.role})`, role: p.role, csrf: session.csrf };
}

/** Which view the reader gets, its data read through the read API, and its title. */
async function view(
  rt: Runtime,
  reader: SessionReader,
  api: ReturnType<typeof apiClient>,
  state: FilterState,
  session: Session,
  now: Date,
) {
  const lowBalance = rt.config.alerts.lowBalanceThresholds;
  if (reader.kind === 'operator') {
    if (!state.company) {
      const [companies, reconciliation] = await Promise.all([
        api<List<OverviewJson>>('/tollgate/v1/overview').then((l) => l.data),
        loadReconciliation(api),
      ]);
      return {
        title: 'All companies',
        body: <OperatorView companies={companies} reconciliation={reconciliation} />,
        timeZone: 'UTC',
      };
    }
    const data = await loadAdmin(api, state, true, lowBalance);
    return {
      title: `${data.overview.name}: company overview`,
      body: <AdminView data={data} state={state} />,
      timeZone: data.overview.time_zone,
    };
  }
  const p = reader.principal;
  const company = rt.config.companies[p.companyId]!;
  if (p.role === 'admin') {
    const data = await loadAdmin(api, state, false, lowBalance);
    return {
      title: `${company.name}: company overview`,
      body: <AdminView data={data} state={state} />,
      timeZone: company.timeZone,
    };
  }
  const data = await loadUser(api, state, company.timeZone, now);
  return {
    title: `${p.userId ?? `Key ${p.keyId}`}: your usage`,
    body: <UserView data={data} state={state} csrf={session.csrf} />,
    timeZone: company.timeZone,
  };
}
