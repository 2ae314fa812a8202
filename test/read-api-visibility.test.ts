import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from './support/harness.js';
import {
  creds,
  FORBIDDEN,
  get,
  READ_PATHS,
  READERS,
  rows,
  seen,
  startReadApiWorld,
  stopReadApiWorld,
} from './support/read-api-world.js';

/**
 * The read API's visibility matrix: for every read path and every kind of reader, exactly the rows the
 * reader may see, and 403 for any filter reaching beyond them.
 * The ledger is seeded through the proxy by every kind of caller (see ./support/read-api-world.ts).
 */
beforeAll(startReadApiWorld);
afterAll(stopReadApiWorld);

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
