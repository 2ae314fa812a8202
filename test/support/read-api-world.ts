import { SignJWT } from 'jose';
import { expect } from 'vitest';
import { EXPORT_COLUMNS } from '../../src/reports/export.js';
import { FakeUpstream } from './fake-upstream.js';
import { startFromFile, type FileTollgate } from './config-file.js';
import { loadRecordings, postRecording } from './fixtures.js';
import type { Row } from './harness.js';

/**
 * The read API tests' world (test/read-api*.test.ts): tollgate started from a config file in front
 * of a fake upstream replaying recorded exchanges, with companies `acme` (JWT users, member and admin
 * keys, per-user daily and per-key monthly token quotas, a 1,000,000-token grant bought by purchase
 * `acme-p1`, a 50,000-token embeddings grant, an unlimited gpt-5-nano grant) and `globex`, operators
 * `ops` and `ops-revoked`, features `chatbot` and `embedding`, and a ledger of 17 settled requests
 * sent through the proxy by every kind of caller in both companies.
 *
 * A test file calls `startReadApiWorld` in `beforeAll` and `stopReadApiWorld` in `afterAll`; `t`,
 * `rows` and `creds` are then that file's running world (each file starts its own).
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
/** The recorded chat completion the ledger's rows replay. */
export const chat = recordings.get('chat-nonstream-01')!;
const embeddings = recordings.get('embeddings-01')!;
process.env.READ_API_JWT_SECRET = 'read-api-secret-0123456789abcdef0123456789';
const JWT = { algorithms: ['HS256'], secretEnv: 'READ_API_JWT_SECRET' };

let upstream: FakeUpstream;
/** The running tollgate (set by `startReadApiWorld`). */
export let t: FileTollgate;
/** The ledger's 17 request rows once seeded, oldest first (set by `startReadApiWorld`). */
export let rows: Row[];

/** A user token (JWT, HS256) for `sub` of `company` with `role`, valid until 2099. */
const userToken = (company: string, sub: string, role: 'member' | 'admin' = 'member') =>
  new SignJWT({ company, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.parse('2099-01-01T00:00:00Z') / 1000))
    .sign(new TextEncoder().encode(process.env.READ_API_JWT_SECRET));

/** Reader name → credential. */
export const creds: Record<string, string> = {};

/** Who may see which row. */
export const READERS: Record<string, (r: Row) => boolean> = {
  'member user (alice)': (r) => r.company_id === 'acme' && r.user_id === 'alice',
  'other member user (bob)': (r) => r.company_id === 'acme' && r.user_id === 'bob',
  'member key (acme-web)': (r) => r.key_id === 'acme-web',
  'admin user (carol)': (r) => r.company_id === 'acme',
  'admin key (acme-admin)': (r) => r.company_id === 'acme',
  "other company's admin (gina)": (r) => r.company_id === 'globex',
  operator: () => true,
};

/** Per reader: filters that reach beyond what it may see, each refused with 403 naming the param. */
export const FORBIDDEN: Record<string, Record<string, string>[]> = {
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

/** The read paths that list ledger rows. */
export const READ_PATHS = ['/tollgate/v1/usage', '/tollgate/v1/requests', '/tollgate/v1/export.csv'] as const;

/** A GET of `path` with `credential` as a bearer token and `query` as its query string. */
export function get(
  path: string,
  credential: string | undefined,
  query: Record<string, string> = {},
): Promise<Response> {
  const qs = new URLSearchParams(query).toString();
  return fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
}

/** A GET of `path` that must answer 200: its JSON body. */
export async function json<T = any>(
  path: string,
  credential: string | undefined,
  query: Record<string, string> = {},
): Promise<T> {
  const res = await get(path, credential, query);
  expect(res.status, `${path} ${JSON.stringify(query)}`).toBe(200);
  return (await res.json()) as T;
}

/** The request ids a reader gets from each read path (usage gives counts and totals). */
export async function seen(credential: string, query: Record<string, string> = {}) {
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

/** Sends one request through the proxy with `credential` (a chat completion, or an embeddings request), which must answer 200. */
async function send(credential: string, opts: { feature?: string; embeddings?: boolean } = {}): Promise<void> {
  const rec = opts.embeddings ? embeddings : chat;
  const res = await postRecording(t.url, rec, credential, {
    headers: opts.feature ? { 'x-tollgate-feature': opts.feature } : {},
    body: opts.embeddings ? rec.request.body : { ...(rec.request.body as object), max_tokens: 5 },
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

/** Starts the fake upstream and tollgate, fills `creds`, and seeds the ledger through the proxy. */
export async function startReadApiWorld(): Promise<void> {
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
}

/** Stops tollgate and the fake upstream. */
export async function stopReadApiWorld(): Promise<void> {
  await t?.close();
  await upstream?.close();
}
