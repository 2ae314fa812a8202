import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chat,
  creds,
  FORBIDDEN,
  get,
  READ_PATHS,
  READERS,
  startReadApiWorld,
  stopReadApiWorld,
  t,
} from './support/read-api-world.js';
import { sessionCookie as signIn } from './support/sign-in.js';

/**
 * Who may use the read API: a credential on every path, strict query parameters, and the dashboard's
 * session cookie standing for the credential it was signed in with (GET only).
 * The ledger is seeded through the proxy by every kind of caller (see ./support/read-api-world.ts).
 */
beforeAll(startReadApiWorld);
afterAll(stopReadApiWorld);

describe('authentication', () => {
  const ALL = [
    ...READ_PATHS,
    '/tollgate/v1/balance',
    '/tollgate/v1/features',
    '/tollgate/v1/quotas',
    '/tollgate/v1/overview',
    '/tollgate/v1/purchases',
  ];
  it.each(ALL)(
    '%s needs a credential: 401 invalid_api_key without one, with an unknown key, or a revoked operator key',
    async (path) => {
      for (const credential of [undefined, 'sk-tg-not-a-key', t.keys['ops-revoked']]) {
        const res = await get(path, credential);
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      }
    },
  );

  it('an operator key cannot use the proxy', async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.ops}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat.request.body),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it('refuses unknown and repeated query parameters, a bad period, group_by or limit with 400 naming the param', async () => {
    const alice = creds['member user (alice)']!;
    for (const [path, query, param] of [
      ['/tollgate/v1/usage', 'users=bob', 'users'],
      ['/tollgate/v1/requests', 'user=alice&user=bob', 'user'],
      ['/tollgate/v1/usage', 'period=14d', 'period'],
      ['/tollgate/v1/usage', 'group_by=week', 'group_by'],
      ['/tollgate/v1/requests', 'limit=0', 'limit'],
      ['/tollgate/v1/export.csv', 'since=yesterday', 'since'],
      ['/tollgate/v1/usage', 'period=7d&since=2026-01-01', 'period'],
      ['/tollgate/v1/balance', 'user=alice', 'user'],
    ] as const) {
      const res = await fetch(`${t.url}${path}?${query}`, { headers: { authorization: `Bearer ${alice}` } });
      expect(res.status, `${path}?${query}`).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });
});

describe("the dashboard's session cookie on the read API", () => {
  /** Signs in through the dashboard's form and returns the `tg_session` cookie. */
  const sessionCookie = (credential: string) => signIn(t.url, credential);
  const withCookie = (path: string, cookie: string, init: RequestInit = {}) =>
    fetch(`${t.url}${path}`, { ...init, headers: { cookie: `tg_session=${cookie}`, ...(init.headers ?? {}) } });

  it.each(Object.keys(READERS))(
    '%s: a GET with the cookie sees exactly what the bearer credential sees, and the same 403s',
    async (reader) => {
      const cookie = await sessionCookie(creds[reader]!);
      for (const path of [
        '/tollgate/v1/requests?limit=1000',
        '/tollgate/v1/usage?group_by=user',
        '/tollgate/v1/export.csv',
        '/tollgate/v1/balance',
      ]) {
        const a = await withCookie(path, cookie);
        const b = await get(path, creds[reader]);
        expect(a.status, path).toBe(200);
        expect(await a.text(), path).toBe(await b.text());
      }
      for (const filter of FORBIDDEN[reader]!)
        expect((await withCookie(`/tollgate/v1/usage?${new URLSearchParams(filter)}`, cookie)).status).toBe(403);
    },
  );

  it('is never accepted for anything but GET, nor when forged; the sign-in form needs its CSRF cookie', async () => {
    const cookie = await sessionCookie(creds['member user (alice)']!);
    const post = await withCookie('/tollgate/v1/quota-requests', cookie, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ justification: 'x' }),
    });
    expect(post.status).toBe(401);
    expect((await withCookie('/tollgate/v1/usage', `${cookie.slice(0, -2)}xx`)).status).toBe(401);
    expect((await withCookie('/tollgate/v1/usage', 'not-a-jwt')).status).toBe(401);
    const bad = await fetch(`${t.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: 'x', credential: t.keys['ops-revoked']! }),
    });
    expect(bad.status).toBe(400); // no sign-in CSRF cookie: refused before the credential is even looked at
  });
});
