import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS } from '../src/reports/export.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { startFromFile, type FileTollgate } from './support/config-file.js';
import { loadRecordings } from './support/fixtures.js';
import type { Row } from './support/harness.js';

/**
 * The read API under /tollgate/v1 on a ledger seeded through the proxy by every kind of caller, and
 * its visibility matrix: for every read path and every kind of reader, exactly the rows the reader
 * may see, and 403 for any filter reaching beyond them.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const embeddings = recordings.get('embeddings-01')!;
process.env.READ_API_JWT_SECRET = 'read-api-secret-0123456789abcdef0123456789';
const JWT = { algorithms: ['HS256'], secretEnv: 'READ_API_JWT_SECRET' };

let upstream: FakeUpstream;
let t: FileTollgate;
let rows: Row[];

const userToken = (company: string, sub: string, role: 'member' | 'admin' = 'member') =>
  new SignJWT({ company, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.parse('2099-01-01T00:00:00Z') / 1000))
    .sign(new TextEncoder().encode(process.env.READ_API_JWT_SECRET));

/** Reader name → credential. */
const creds: Record<string, string> = {};

/** Who may see which row. */
const READERS: Record<string, (r: Row) => boolean> = {
  'member user (alice)': (r) => r.company_id === 'acme' && r.user_id === 'alice',
  'other member user (bob)': (r) => r.company_id === 'acme' && r.user_id === 'bob',
  'member key (acme-web)': (r) => r.key_id === 'acme-web',
  'admin user (carol)': (r) => r.company_id === 'acme',
  'admin key (acme-admin)': (r) => r.company_id === 'acme',
  "other company's admin (gina)": (r) => r.company_id === 'globex',
  operator: () => true,
};

/** Per reader: filters that reach beyond what it may see, each refused with 403 naming the param. */
const FORBIDDEN: Record<string, Record<string, string>[]> = {
  'member user (alice)': [
    { company: 'globex' },
    { user: 'bob' },
    { key: 'globex-key' },
    { company: 'acme', user: 'carol' },
  ],
  'other member user (bob)': [{ company: 'globex' }, { user: 'alice' }],
  'member key (acme-web)': [{ company: 'globex' }, { key: 'acme-batch' }, { key: 'globex-key' }],
  'admin user (carol)': [{ company: 'globex' }, { key: 'globex-key' }],
  'admin key (acme-admin)': [{ company: 'globex' }, { key: 'globex-admin-key' }],
  "other company's admin (gina)": [{ company: 'acme' }, { key: 'acme-web' }],
  operator: [],
};

const READ_PATHS = ['/tollgate/v1/usage', '/tollgate/v1/requests', '/tollgate/v1/export.csv'] as const;

function get(path: string, credential: string | undefined, query: Record<string, string> = {}): Promise<Response> {
  const qs = new URLSearchParams(query).toString();
  return fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
}

async function json<T = any>(
  path: string,
  credential: string | undefined,
  query: Record<string, string> = {},
): Promise<T> {
  const res = await get(path, credential, query);
  expect(res.status, `${path} ${JSON.stringify(query)}`).toBe(200);
  return (await res.json()) as T;
}

/** The request ids a reader gets from each read path (usage gives counts and totals). */
async function seen(credential: string, query: Record<string, string> = {}) {
  const requests = await json<{
    data: { id: string; company_id: string; user_id: string | null; key_id: string | null }[];
  }>('/tollgate/v1/requests', credential, { limit: '1000', ...query });
  const csvRes = await get('/tollgate/v1/export.csv', credential, query);
  expect(csvRes.status).toBe(200);
  expect(csvRes.headers.get('content-type')).toMatch(/^text\/csv/);
  const lines = (await csvRes.text()).split('\r\n').filter(Boolean);
  expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
  // Request ID, then End User and Tags (empty here: no request named an end user or tags).
  const csvIds = lines.slice(1).map((l) => l.split(',').at(-3)!);
  const usage = await json<{ data: { requests: number; total_tokens: number; cost_micro_usd: number }[] }>(
    '/tollgate/v1/usage',
    credential,
    query,
  );
  const byUser = await json<{ data: { key: string | null; company_id: string | null; requests: number }[] }>(
    '/tollgate/v1/usage',
    credential,
    { ...query, group_by: 'user' },
  );
  return { requests: requests.data, csvIds, usage: usage.data[0]!, byUser: byUser.data };
}

async function send(credential: string, opts: { feature?: string; embeddings?: boolean } = {}): Promise<void> {
  const rec = opts.embeddings ? embeddings : chat;
  const res = await fetch(`${t.url}${rec.request.path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      'x-test-recording': rec.name,
      ...(opts.feature ? { 'x-tollgate-feature': opts.feature } : {}),
    },
    body: JSON.stringify(opts.embeddings ? rec.request.body : { ...(rec.request.body as object), max_tokens: 5 }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 1;
  t = await startFromFile({
    upstreamUrl: upstream.url,
    watch: false,
    config: ({ key, operator }) => ({
      companies: {
        acme: {
          name: 'Acme',
          jwt: JWT,
          keys: [key({ id: 'acme-web' }), key({ id: 'acme-batch' }), key({ id: 'acme-admin', role: 'admin' })],
          limits: {
            user: { quotas: { daily: { tokens: 1_000_000 } } },
            key: { quotas: { monthly: { tokens: 5_000_000 } } },
          },
          allocations: [
            { id: 'acme-main', tokens: 1_000_000, purchase: 'acme-p1' },
            { id: 'acme-embed', tokens: 50_000, models: ['text-embedding-3-small'] },
            { id: 'acme-nano', unlimited: true, models: ['gpt-5-nano'] },
          ],
        },
        globex: {
          name: 'Globex',
          jwt: JWT,
          keys: [key({ id: 'globex-key' }), key({ id: 'globex-admin-key', role: 'admin' })],
          allocations: [{ id: 'globex-main', tokens: 200_000 }],
        },
      },
      purchases: {
        'acme-p1': {
          date: '2026-10-01',
          totalTokens: 1_000_000,
          costPerTokenUsd: 0.000002,
          provider: 'openai',
          notes: 'Q4',
        },
      },
      operators: [operator('ops'), operator('ops-revoked', { revoked: true })],
      features: { chatbot: { multiplier: 2.5, description: 'Chatbot responses' }, embedding: { multiplier: 2 } },
    }),
  });
  Object.assign(creds, {
    'member user (alice)': await userToken('acme', 'alice'),
    'other member user (bob)': await userToken('acme', 'bob'),
    'member key (acme-web)': t.keys['acme-web'],
    'admin user (carol)': await userToken('acme', 'carol', 'admin'),
    'admin key (acme-admin)': t.keys['acme-admin'],
    "other company's admin (gina)": await userToken('globex', 'gina', 'admin'),
    operator: t.keys.ops,
  });
  const erin = await userToken('globex', 'erin');
  // The ledger's rows: every kind of caller in both companies.
  for (let i = 0; i < 3; i++) await send(creds['member user (alice)']!, { feature: i === 0 ? 'chatbot' : undefined });
  await send(creds['member user (alice)']!, { embeddings: true });
  for (let i = 0; i < 2; i++) await send(creds['other member user (bob)']!);
  await send(creds['admin user (carol)']!);
  for (let i = 0; i < 2; i++) await send(t.keys['acme-web']!);
  await send(t.keys['acme-batch']!);
  await send(t.keys['acme-admin']!);
  for (let i = 0; i < 2; i++) await send(erin);
  await send(creds["other company's admin (gina)"]!);
  for (let i = 0; i < 2; i++) await send(t.keys['globex-key']!);
  await send(t.keys['globex-admin-key']!);
  await t.settled();
  rows = t.rows();
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

describe('the seeded ledger', () => {
  it('has every kind of caller in both companies', () => {
    expect(rows).toHaveLength(17);
    expect(rows.every((r) => r.status === 'settled')).toBe(true);
    expect(new Set(rows.map((r) => r.user_id ?? `key:${r.key_id}`))).toEqual(
      new Set([
        'alice',
        'bob',
        'carol',
        'key:acme-web',
        'key:acme-batch',
        'key:acme-admin',
        'erin',
        'gina',
        'key:globex-key',
        'key:globex-admin-key',
      ]),
    );
  });
});

describe('visibility: each reader gets exactly its rows from every read path', () => {
  it.each(Object.keys(READERS))('%s', async (reader) => {
    const expected = rows.filter(READERS[reader]!);
    expect(expected.length).toBeGreaterThan(0);
    const ids = expected.map((r) => r.id).sort();
    const got = await seen(creds[reader]!);
    expect(got.requests.map((r) => r.id).sort()).toEqual(ids);
    expect(got.csvIds.sort()).toEqual(ids);
    expect(got.usage.requests).toBe(expected.length);
    expect(got.usage.total_tokens).toBe(expected.reduce((s, r) => s + Number(r.total_tokens), 0));
    expect(got.usage.cost_micro_usd).toBe(expected.reduce((s, r) => s + Number(r.cost_micro_usd), 0));
    expect(new Set(got.byUser.map((g) => `${g.company_id}/${g.key}`))).toEqual(
      new Set(expected.map((r) => `${r.company_id}/${r.user_id}`)),
    );
    // A period filter narrows within the same visibility.
    const week = await seen(creds[reader]!, { period: '7d' });
    expect(week.requests.map((r) => r.id).sort()).toEqual(ids);
    const none = await seen(creds[reader]!, { until: '2000-01-01' });
    expect(none.requests).toEqual([]);
    expect(none.csvIds).toEqual([]);
    expect(none.usage.requests).toBe(0);
  });
});

describe('visibility: a filter beyond what the reader may see is refused with 403, never narrowed', () => {
  const cases = Object.entries(FORBIDDEN).flatMap(([reader, filters]) =>
    filters.flatMap((f) => READ_PATHS.map((path) => [reader, path, f] as const)),
  );
  it.each(cases)('%s: %s %o', async (reader, path, filter) => {
    const res = await get(path, creds[reader], filter);
    expect(res.status).toBe(403);
    const { error } = (await res.json()) as { error: { code: string; type: string; param: string; message: string } };
    expect(error.code).toBe('permission_denied');
    expect(error.type).toBe('invalid_request_error');
    expect(Object.keys(filter)).toContain(error.param);
  });

  it.each([
    ['member user (alice)', { user: 'alice' }, (r: Row) => r.user_id === 'alice'],
    ['admin user (carol)', { user: 'bob' }, (r: Row) => r.company_id === 'acme' && r.user_id === 'bob'],
    ['admin key (acme-admin)', { key: 'acme-batch' }, (r: Row) => r.key_id === 'acme-batch'],
    ['member key (acme-web)', { key: 'acme-web', company: 'acme' }, (r: Row) => r.key_id === 'acme-web'],
    ['operator', { company: 'globex' }, (r: Row) => r.company_id === 'globex'],
    ['operator', { company: 'acme', user: 'alice' }, (r: Row) => r.company_id === 'acme' && r.user_id === 'alice'],
    ['member user (alice)', { feature: 'chatbot' }, (r: Row) => r.user_id === 'alice' && r.feature === 'chatbot'],
    [
      'admin user (carol)',
      { endpoint: '/v1/embeddings' },
      (r: Row) => r.company_id === 'acme' && r.endpoint === '/v1/embeddings',
    ],
  ] as const)('allowed: %s narrowing to %o', async (reader, filter, pick) => {
    const expected = rows
      .filter(pick)
      .map((r) => r.id)
      .sort();
    expect(expected.length).toBeGreaterThan(0);
    const got = await seen(creds[reader]!, filter);
    expect(got.requests.map((r) => r.id).sort()).toEqual(expected);
    expect(got.csvIds.sort()).toEqual(expected);
    expect(got.usage.requests).toBe(expected.length);
  });
});

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

describe('GET /tollgate/v1/balance', () => {
  it("gives a member its company's per-model credits with the unlimited flag, and per grant; another company is 403", async () => {
    for (const reader of ['member user (alice)', 'member key (acme-web)', 'admin user (carol)']) {
      const b = await json('/tollgate/v1/balance', creds[reader]);
      expect(b.object).toBe('balance');
      expect(b.company_id).toBe('acme');
      expect(b.unlimited_models).toEqual(['gpt-5-nano']);
      expect(b.models.map((m: any) => [m.models, m.unlimited])).toEqual([
        [null, false],
        [['gpt-5-nano'], true],
        [['text-embedding-3-small'], false],
      ]);
      expect(b.grants.map((g: any) => g.id).sort()).toEqual(['acme-embed', 'acme-main', 'acme-nano']);
      const main = b.grants.find((g: any) => g.id === 'acme-main');
      const spent = Number(t.query("SELECT spent FROM grants WHERE id = 'acme-main'")[0]!.spent);
      expect(spent).toBeGreaterThan(0);
      expect(main).toMatchObject({
        unit: 'tokens',
        amount: 1_000_000,
        spent,
        held: 0,
        remaining: 1_000_000 - spent,
        active: true,
      });
      expect(b.models[0].tokens).toBe(1_000_000 - spent);
      expect(b.tokens).toBe(b.models[0].tokens + b.models[2].tokens);
      const denied = await get('/tollgate/v1/balance', creds[reader], { company: 'globex' });
      expect(denied.status).toBe(403);
    }
    const globex = await json('/tollgate/v1/balance', creds["other company's admin (gina)"]);
    expect(globex.company_id).toBe('globex');
    expect(globex.grants.map((g: any) => g.id)).toEqual(['globex-main']);
  });

  it.each(Object.keys(READERS).filter((r) => r !== 'operator'))(
    "%s: its own company's balance only; the other company is 403",
    async (reader) => {
      const own = reader.includes('gina') ? 'globex' : 'acme';
      const other = own === 'acme' ? 'globex' : 'acme';
      const b = await json('/tollgate/v1/balance', creds[reader]);
      expect(b.company_id).toBe(own);
      expect(b.grants.every((g: any) => g.id.startsWith(`${own}-`))).toBe(true);
      expect((await json('/tollgate/v1/balance', creds[reader], { company: own })).company_id).toBe(own);
      const denied = await get('/tollgate/v1/balance', creds[reader], { company: other });
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { error: { code: string; param: string } }).error).toMatchObject({
        code: 'permission_denied',
        param: 'company',
      });
    },
  );

  it('gives an operator every company, or the one asked for', async () => {
    const all = await json('/tollgate/v1/balance', creds.operator);
    expect(all.object).toBe('list');
    expect(all.data.map((b: any) => b.company_id)).toEqual(['acme', 'globex']);
    const one = await json('/tollgate/v1/balance', creds.operator, { company: 'globex' });
    expect(one.company_id).toBe('globex');
    expect((await get('/tollgate/v1/balance', creds.operator, { company: 'initech' })).status).toBe(404);
  });
});

describe('GET /tollgate/v1/requests', () => {
  it('lists the newest first, honours limit, and gives the remaining balance after each row as `tollgate history` does', async () => {
    const carol = creds['admin user (carol)']!;
    const all = await json('/tollgate/v1/requests', carol);
    const acme = rows.filter((r) => r.company_id === 'acme').reverse();
    expect(all.data.map((r: any) => r.id)).toEqual(acme.map((r) => r.id));
    const two = await json('/tollgate/v1/requests', carol, { limit: '2' });
    expect(two.data.map((r: any) => r.id)).toEqual(acme.slice(0, 2).map((r) => r.id));
    const first = all.data[0];
    expect(first).toMatchObject({
      object: 'tollgate.request',
      company_id: 'acme',
      status: 'settled',
      success: true,
      http_status: 200,
      usage_source: 'upstream',
    });
    // The newest row shows the current balance of the company's limited token grants; each older one adds back what came after.
    const balance = await json('/tollgate/v1/balance', carol);
    expect(first.remaining_tokens).toBe(balance.tokens);
    const debited = (id: string) =>
      t.query(
        "SELECT COALESCE(SUM(amount), 0) AS n FROM debits WHERE request_id = ? AND grant_id IN ('acme-main', 'acme-embed')",
        id,
      )[0]!.n as number;
    for (let i = 1; i < all.data.length; i++)
      expect(all.data[i].remaining_tokens).toBe(all.data[i - 1].remaining_tokens + debited(all.data[i - 1].id));
    // A member sees the same remaining figures on its own rows, though the rows between them are hidden.
    const alice = await json('/tollgate/v1/requests', creds['member user (alice)']);
    for (const r of alice.data)
      expect(r.remaining_tokens).toBe(all.data.find((x: any) => x.id === r.id).remaining_tokens);
  });
});

describe('GET /tollgate/v1/usage', () => {
  it('groups by model, endpoint and day within the reader’s rows', async () => {
    const byModel = await json('/tollgate/v1/usage', creds['member user (alice)'], { group_by: 'model' });
    expect(byModel.data.map((g: any) => [g.key, g.requests])).toEqual([
      ['gpt-3.5-turbo', 3],
      ['text-embedding-3-small', 1],
    ]);
    const byEndpoint = await json('/tollgate/v1/usage', creds.operator, { group_by: 'endpoint' });
    expect(byEndpoint.data.map((g: any) => [g.key, g.requests])).toEqual([
      ['/v1/chat/completions', 16],
      ['/v1/embeddings', 1],
    ]);
    const byCompany = await json('/tollgate/v1/usage', creds.operator, { group_by: 'company' });
    expect(byCompany.data.map((g: any) => [g.key, g.requests])).toEqual([
      ['acme', 11],
      ['globex', 6],
    ]);
    const day = await json('/tollgate/v1/usage', creds['admin key (acme-admin)'], { group_by: 'day' });
    expect(day.data.reduce((s: number, g: any) => s + g.requests, 0)).toBe(11);
    expect(day.group_by).toBe('day');
  });
});

describe('GET /tollgate/v1/features', () => {
  it('lists the feature rates of the config to any caller', async () => {
    for (const reader of ['member user (alice)', 'member key (acme-web)', 'operator']) {
      const f = await json('/tollgate/v1/features', creds[reader]);
      expect(f).toEqual({
        object: 'list',
        data: [
          { object: 'tollgate.feature', name: 'chatbot', multiplier: 2.5, description: 'Chatbot responses' },
          { object: 'tollgate.feature', name: 'embedding', multiplier: 2, description: null },
        ],
      });
    }
  });
});

/** Metered tokens of the rows `pick` selects (what quota counters are charged). */
const metered = (pick: (r: Row) => boolean) => rows.filter(pick).reduce((n, r) => n + Number(r.metered_tokens), 0);

describe('GET /tollgate/v1/quotas', () => {
  const spentOf = (body: any, window: string) => body.data.find((q: any) => q.window === window)?.spent_tokens;
  it.each([
    ['member user (alice)', {}, 'daily', (r: Row) => r.company_id === 'acme' && r.user_id === 'alice'],
    ['member key (acme-web)', {}, 'monthly', (r: Row) => r.key_id === 'acme-web'],
    ['admin user (carol)', {}, 'daily', (r: Row) => r.company_id === 'acme' && r.user_id === 'carol'],
    ['admin user (carol)', { user: 'alice' }, 'daily', (r: Row) => r.company_id === 'acme' && r.user_id === 'alice'],
    ['admin key (acme-admin)', { user: 'bob' }, 'daily', (r: Row) => r.company_id === 'acme' && r.user_id === 'bob'],
    [
      'operator',
      { company: 'acme', user: 'alice' },
      'daily',
      (r: Row) => r.company_id === 'acme' && r.user_id === 'alice',
    ],
  ] as const)('%s %o: the quota windows with what the ledger charged them', async (reader, query, window, pick) => {
    const body = await json('/tollgate/v1/quotas', creds[reader], query);
    const spent = metered(pick);
    expect(spent).toBeGreaterThan(0);
    expect(spentOf(body, window)).toBe(spent);
    const q = body.data.find((x: any) => x.window === window);
    const limit = window === 'daily' ? 1_000_000 : 5_000_000;
    expect(q).toMatchObject({
      limit_tokens: limit,
      held_tokens: 0,
      remaining_tokens: limit - spent,
      level: 'ok',
      used: Number((spent / limit).toFixed(4)),
    });
    expect(Date.parse(q.resets_at)).toBeGreaterThan(Date.now());
    expect(body.thresholds).toEqual({ warning: 0.8, critical: 0.95 });
  });

  it.each([
    ['member user (alice)', { user: 'bob' }, 403, 'user'],
    ['member user (alice)', { company: 'globex' }, 403, 'company'],
    ['other member user (bob)', { user: 'alice' }, 403, 'user'],
    ['member key (acme-web)', { user: 'alice' }, 403, 'user'],
    ['admin user (carol)', { company: 'globex', user: 'erin' }, 403, 'company'],
    ["other company's admin (gina)", { company: 'acme', user: 'alice' }, 403, 'company'],
    ['operator', {}, 400, 'company'],
    ['operator', { company: 'acme' }, 400, 'user'],
    ['operator', { company: 'initech', user: 'x' }, 404, 'company'],
  ] as const)('%s %o: refused with %i naming %s', async (reader, query, status, param) => {
    const res = await get('/tollgate/v1/quotas', creds[reader], query);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
  });

  it("another company's admin naming a user sees that user in its own company only (nothing of acme's alice)", async () => {
    const body = await json('/tollgate/v1/quotas', creds["other company's admin (gina)"], { user: 'alice' });
    expect(body.company_id).toBe('globex');
    expect(body.data).toEqual([]); // globex has no quotas configured
  });
});

describe('GET /tollgate/v1/overview', () => {
  it.each(['member user (alice)', 'other member user (bob)', 'member key (acme-web)'])(
    '%s: refused (403): it would show others’ spend',
    async (reader) => {
      expect((await get('/tollgate/v1/overview', creds[reader])).status).toBe(403);
    },
  );

  it.each([
    ['admin user (carol)', 'acme'],
    ['admin key (acme-admin)', 'acme'],
    ["other company's admin (gina)", 'globex'],
  ] as const)(
    "%s: its company's balance, month spend and open holds; the other company is 403",
    async (reader, own) => {
      const body = await json('/tollgate/v1/overview', creds[reader]);
      expect(body.data).toHaveLength(1);
      const o = body.data[0];
      const mine = rows.filter((r) => r.company_id === own);
      const balance = await json('/tollgate/v1/balance', creds[reader]);
      expect(o).toMatchObject({ company_id: own, tokens: balance.tokens, open_holds: 0, month_requests: mine.length });
      expect(o.month_tokens).toBe(mine.reduce((n, r) => n + Number(r.total_tokens), 0));
      expect(o.month_cost_micro_usd).toBe(mine.reduce((n, r) => n + Number(r.cost_micro_usd), 0));
      expect(Array.isArray(o.alerts)).toBe(true);
      const other = own === 'acme' ? 'globex' : 'acme';
      expect((await get('/tollgate/v1/overview', creds[reader], { company: other })).status).toBe(403);
    },
  );

  it('gives an operator every company, or one; an unknown company is 404', async () => {
    const all = await json('/tollgate/v1/overview', creds.operator);
    expect(all.data.map((o: any) => o.company_id)).toEqual(['acme', 'globex']);
    expect(all.data.map((o: any) => o.month_requests)).toEqual([
      rows.filter((r) => r.company_id === 'acme').length,
      rows.filter((r) => r.company_id === 'globex').length,
    ]);
    expect(
      (await json('/tollgate/v1/overview', creds.operator, { company: 'globex' })).data.map((o: any) => o.company_id),
    ).toEqual(['globex']);
    expect((await get('/tollgate/v1/overview', creds.operator, { company: 'initech' })).status).toBe(404);
  });
});

describe('GET /tollgate/v1/purchases', () => {
  it.each(Object.keys(READERS).filter((r) => r !== 'operator'))(
    "%s: its own company's purchase records only",
    async (reader) => {
      const own = reader.includes('gina') ? 'globex' : 'acme';
      const body = await json('/tollgate/v1/purchases', creds[reader]);
      if (own === 'acme')
        expect(body.data).toEqual([
          {
            object: 'tollgate.purchase',
            id: 'acme-p1',
            company_id: 'acme',
            date: '2026-10-01',
            total_tokens: 1_000_000,
            cost_per_token_usd: 0.000002,
            amount_micro_usd: 2_000_000,
            amount_usd: '2.000000',
            provider: 'openai',
            expires_at: null,
            notes: 'Q4',
            grants: ['acme-main'],
          },
        ]);
      else expect(body.data).toEqual([]);
      expect(
        (await get('/tollgate/v1/purchases', creds[reader], { company: own === 'acme' ? 'globex' : 'acme' })).status,
      ).toBe(403);
    },
  );

  it('gives an operator every company’s, or one company’s', async () => {
    expect((await json('/tollgate/v1/purchases', creds.operator)).data.map((p: any) => p.id)).toEqual(['acme-p1']);
    expect((await json('/tollgate/v1/purchases', creds.operator, { company: 'globex' })).data).toEqual([]);
  });
});

describe("the dashboard's session cookie on the read API", () => {
  /** Signs in through the dashboard's form and returns the `tg_session` cookie. */
  async function sessionCookie(credential: string): Promise<string> {
    const page = await fetch(`${t.url}/dashboard/sign-in`);
    const signin = /tg_signin=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(`${t.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `tg_signin=${signin}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, credential }),
    });
    expect(res.status).toBe(303);
    return /tg_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
  }
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
