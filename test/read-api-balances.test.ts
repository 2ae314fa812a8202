import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from './support/harness.js';
import { creds, get, json, READERS, rows, startReadApiWorld, stopReadApiWorld, t } from './support/read-api-world.js';

/**
 * What the read API says a company holds: its balance per model and grant, its quota windows, the
 * overview of balance, month spend and open holds, and its purchase records, each to its own company.
 * The ledger is seeded through the proxy by every kind of caller (see ./support/read-api-world.ts).
 */
beforeAll(startReadApiWorld);
afterAll(stopReadApiWorld);

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
