import { afterEach, describe, expect, it } from 'vitest';
import { AdminApi, AdminApiError, retryAfterMs } from '../src/reconcile/admin-api.js';
import { type FakeAdminApi, type FakeRecord, startFakeAdminApi } from './support/fake-admin-api.js';

/** The Admin API client against a fake built from OpenAI's documented shapes: pages, buckets, group_by, 429, 401. */
const ADMIN_KEY = 'sk-admin-test-0123456789abcdef';
const DAY = 86_400;
const START = Date.parse('2026-10-01T00:00:00Z') / 1000;

let fake: FakeAdminApi;
afterEach(async () => {
  await fake?.close();
});

const api = (over: Partial<ConstructorParameters<typeof AdminApi>[0]> = {}) =>
  new AdminApi({ baseUrl: fake.url, adminKey: ADMIN_KEY, maxRetries: 3, maxWaitMs: 10_000, ...over });

const completion = (day: number, fields: FakeRecord['fields']): FakeRecord => ({
  kind: 'completions',
  time: START + day * DAY + 3600,
  fields: { num_model_requests: 1, ...fields },
});

describe('Admin API client', () => {
  it('follows next_page across pages of 31 daily buckets, keeping empty buckets', async () => {
    // 70 days: three pages (31 + 31 + 8); usage on days 0, 40 and 69 only.
    fake = await startFakeAdminApi({
      adminKey: ADMIN_KEY,
      now: START + 70 * DAY,
      records: [
        completion(0, { model: 'gpt-4o-mini-2024-07-18', input_tokens: 10, output_tokens: 1 }),
        completion(40, { model: 'gpt-4o-mini-2024-07-18', input_tokens: 20, output_tokens: 2 }),
        completion(69, { model: 'gpt-4o', input_tokens: 30, output_tokens: 3 }),
      ],
    });
    const buckets = await api().usage('completions', {
      startTime: START,
      endTime: START + 70 * DAY,
      bucketWidth: '1d',
      groupBy: ['model'],
    });
    expect(buckets).toHaveLength(70);
    expect(buckets.map((b) => b.startTime)).toEqual(Array.from({ length: 70 }, (_, i) => START + i * DAY));
    expect(buckets.filter((b) => b.results.length === 0)).toHaveLength(67);
    expect(buckets[40]!.results).toEqual([
      expect.objectContaining({
        object: 'organization.usage.completions.result',
        model: 'gpt-4o-mini-2024-07-18',
        input_tokens: 20,
        output_tokens: 2,
        project_id: null,
      }),
    ]);
    const pages = fake.requests.map((r) => r.query.get('page'));
    expect(pages).toHaveLength(3);
    expect(pages[0]).toBeNull();
    expect(
      fake.requests.every((r) => r.query.get('limit') === '31' && r.query.getAll('group_by[]').join() === 'model'),
    ).toBe(true);
  });

  it('groups by what each endpoint documents, and keeps exact cost amounts as decimal text', async () => {
    fake = await startFakeAdminApi({
      adminKey: ADMIN_KEY,
      now: START + DAY,
      records: [
        { kind: 'vector_stores', time: START + 10, fields: { project_id: 'proj_a', usage_bytes: 1024 } },
        {
          kind: 'costs',
          time: START + 10,
          fields: { amount: '0.0405', line_item: 'gpt-4o, input', project_id: 'proj_a' },
        },
        {
          kind: 'costs',
          time: START + 20,
          fields: { amount: '0.00000000055', line_item: 'gpt-4o, input', project_id: 'proj_a' },
        },
        {
          kind: 'costs',
          time: START + 30,
          fields: { amount: '12.1', line_item: 'gpt-4o, output', project_id: 'proj_b' },
        },
      ],
    });
    const q = { startTime: START, endTime: START + DAY, groupBy: ['model', 'project_id', 'api_key_id', 'line_item'] };
    // model and api_key_id are not vector_stores' to group by: only project_id is sent.
    const stores = await api().usage('vector_stores', { ...q, bucketWidth: '1d' });
    expect(fake.requests.at(-1)!.query.getAll('group_by[]')).toEqual(['project_id']);
    expect(stores[0]!.results).toEqual([
      { object: 'organization.usage.vector_stores.result', usage_bytes: 1024, project_id: 'proj_a' },
    ]);
    const costs = await api().costs(q);
    expect(fake.requests.at(-1)!.query.getAll('group_by[]')).toEqual(['project_id', 'api_key_id', 'line_item']);
    expect(costs[0]!.results.map((r) => [r.line_item, r.project_id, (r.amount as { value: unknown }).value])).toEqual([
      ['gpt-4o, input', 'proj_a', '0.04050000055'],
      ['gpt-4o, output', 'proj_b', '12.1'],
    ]);
  });

  it('waits what retry-after asks on a 429, then succeeds', async () => {
    fake = await startFakeAdminApi({ adminKey: ADMIN_KEY, now: START + DAY, records: [] });
    fake.rateLimit(2, 1);
    const buckets = await api().usage('embeddings', {
      startTime: START,
      endTime: START + DAY,
      bucketWidth: '1d',
      groupBy: [],
    });
    expect(buckets).toHaveLength(1);
    expect(fake.requests).toHaveLength(3);
    const [a, b, c] = fake.requests.map((r) => r.at);
    expect(b! - a!).toBeGreaterThanOrEqual(990);
    expect(c! - b!).toBeGreaterThanOrEqual(990);
  });

  it('gives up at once when retry-after is beyond the wait budget, and after the retry count', async () => {
    fake = await startFakeAdminApi({ adminKey: ADMIN_KEY, now: START + DAY, records: [] });
    fake.rateLimit(1, 3600);
    const started = Date.now();
    const q = { startTime: START, endTime: START + DAY, bucketWidth: '1d' as const, groupBy: [] };
    const err = await api()
      .usage('images', q)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminApiError);
    expect(err).toMatchObject({ status: 429, code: 'rate_limited' });
    expect((err as Error).message).toMatch(/asks to wait 3600 s, beyond what is left of the 10 s allowed/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fake.requests).toHaveLength(1);

    fake.fail(5, 500);
    const gaveUp = await api({ maxRetries: 1, maxWaitMs: 60_000 })
      .usage('images', q)
      .catch((e: unknown) => e);
    expect(gaveUp).toMatchObject({ status: 500, code: 'api_error' });
    expect((gaveUp as Error).message).toMatch(/gave up after 2 attempts/);
  });

  it('refuses a non-admin key with what the key needs, never echoing it', async () => {
    fake = await startFakeAdminApi({ adminKey: ADMIN_KEY, now: START + DAY, records: [] });
    const projectKey = 'sk-proj-abcdefghijklmnopqrstuvwxyz012345';
    const err = await new AdminApi({ baseUrl: fake.url, adminKey: projectKey, keyEnv: 'MY_ADMIN_KEY' })
      .costs({ startTime: START, endTime: START + DAY, groupBy: [] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminApiError);
    expect(err).toMatchObject({ status: 401, code: 'admin_key_refused' });
    const message = (err as Error).message;
    expect(message).toContain('$MY_ADMIN_KEY');
    expect(message).toMatch(/Admin API key \(sk-admin-…/);
    expect(message).toMatch(/read access to Usage/);
    expect(message).not.toContain(projectKey.slice(0, 12));
    expect(message).not.toContain(projectKey.slice(-4));
    expect(fake.requests).toHaveLength(1);
  });

  it('reads retry-after as seconds, as an HTTP date, and retry-after-ms first', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterMs(h({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '2' }))).toBe(250);
    expect(
      retryAfterMs(h({ 'retry-after': 'Wed, 21 Oct 2026 07:28:10 GMT' }), Date.parse('2026-10-21T07:28:00Z')),
    ).toBe(10_000);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(h({}))).toBeUndefined();
  });

  it('refuses a page that is not a page of buckets', async () => {
    fake = await startFakeAdminApi({ adminKey: ADMIN_KEY, now: START + DAY, records: [] });
    const err = await new AdminApi({ baseUrl: `${fake.url}/nowhere`, adminKey: ADMIN_KEY, maxRetries: 0 })
      .costs({ startTime: START, endTime: START + DAY, groupBy: [] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'api_error' });
  });
});
