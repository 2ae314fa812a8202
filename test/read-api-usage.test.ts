import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creds, get, json, rows, startReadApiWorld, stopReadApiWorld, t } from './support/read-api-world.js';

/**
 * What the read API says was spent: the request list with the balance after each row, usage grouped
 * by model, endpoint, company and day, and the feature rates.
 * The ledger is seeded through the proxy by every kind of caller (see ./support/read-api-world.ts).
 */
beforeAll(startReadApiWorld);
afterAll(stopReadApiWorld);

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

  it('pages groups by tokens with limit and offset, saying whether more follow', async () => {
    const op = creds.operator;
    const all = await json('/tollgate/v1/usage', op, { group_by: 'user' });
    // Few users: every group, by key, nothing more to page.
    expect(all).toMatchObject({ has_more: false, next_offset: null });
    expect(all.data.length).toBeGreaterThanOrEqual(3);
    const byTokens = [...all.data].sort(
      (a: any, b: any) =>
        b.total_tokens - a.total_tokens ||
        (a.company_id < b.company_id ? -1 : a.company_id > b.company_id ? 1 : 0) ||
        (a.key === null ? -1 : b.key === null ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    const pages: any[] = [];
    let offset: number | null = 0;
    for (let i = 0; offset !== null && i < 50; i++) {
      const page: any = await json('/tollgate/v1/usage', op, { group_by: 'user', limit: '2', offset: String(offset) });
      expect(page.data.length).toBeLessThanOrEqual(2);
      pages.push(...page.data);
      expect(page.has_more).toBe(page.next_offset !== null);
      offset = page.next_offset;
    }
    expect(pages).toEqual(byTokens);
    // Past the end: an empty last page.
    const past = await json('/tollgate/v1/usage', op, { group_by: 'user', limit: '2', offset: '1000' });
    expect(past).toMatchObject({ data: [], has_more: false, next_offset: null });
    for (const bad of ['-1', '1.5', 'x', '10000001']) {
      const res = await get('/tollgate/v1/usage', op, { group_by: 'user', offset: bad });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', param: 'offset' });
    }
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
