import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GrantTerms, Ledger, QuotaCheck } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, LATER, NOW, requestFacts, tokensUsed } from './fixtures.js';

/**
 * The ledger port's operations, one behaviour at a time, for each adapter: burn order, idempotent
 * settle and void, billing an object once, crash recovery, quota holds, grant sync and the small
 * stores. The random sequences of properties.test.ts check the invariants between them.
 */

const grant = (id: string, terms: Partial<GrantTerms> = {}) => grantTerms({ id, ...terms });
const facts = requestFacts;
const want = hold;
const used = tokensUsed;

describe.each(ADAPTERS)('ledger operations ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await adapter.open();
    ledger = opened.ledger;
  });
  afterEach(() => opened.close());

  const spentOf = async () => Object.fromEntries((await ledger.reader.grants()).map((g) => [g.id, [g.spent, g.held]]));

  it('burns unlimited grants first, then the earliest expiry, then the oldest start, then by id', async () => {
    await ledger.syncGrants(
      [
        grant('z-no-expiry', { amount: 100 }),
        grant('b-late', { amount: 100, expiresAt: '2027-06-01T00:00:00.000Z' }),
        grant('a-early', { amount: 100, expiresAt: '2027-01-01T00:00:00.000Z' }),
        grant('c-unlimited', { unlimited: true, amount: 0, models: ['gpt-5-nano'] }),
      ],
      [],
      NOW,
    );
    const f = facts();
    expect((await ledger.admit(f, want(150), NOW, [])).ok).toBe(true);
    expect(await spentOf()).toEqual({
      'a-early': [0, 100],
      'b-late': [0, 50],
      'c-unlimited': [0, 0],
      'z-no-expiry': [0, 0],
    });
    await ledger.settle(f.id, used(250), LATER);
    // 100 beyond the hold: taken from the next grant in burn order, not an overdraft.
    expect(await spentOf()).toEqual({
      'a-early': [100, 0],
      'b-late': [100, 0],
      'c-unlimited': [0, 0],
      'z-no-expiry': [50, 0],
    });

    const nano = facts({ requestedModel: 'gpt-5-nano' });
    expect((await ledger.admit(nano, want(40), NOW, [])).ok).toBe(true);
    await ledger.settle(nano.id, used(40), LATER);
    expect((await spentOf())['c-unlimited']).toEqual([40, 0]);
    expect((await ledger.reader.verify()).filter((x) => x.severity === 'error')).toEqual([]);
  });

  it('burns a lower priority first, before an earlier expiry; priority and create-only terms survive sync', async () => {
    await ledger.syncGrants(
      [
        grant('a-expires-first', { amount: 100, expiresAt: '2027-01-01T00:00:00.000Z' }),
        grant('b-topup', { amount: 100, priority: 0 }),
        grant('c-reserve', { amount: 100, priority: 5, expiresAt: '2026-12-31T00:00:00.000Z' }),
      ],
      [],
      NOW,
    );
    // A hold one grant covers sits on the grant the burn order picks first (the lowest priority).
    const one = facts();
    expect((await ledger.admit(one, want(60), NOW, [])).ok).toBe(true);
    expect(await spentOf()).toEqual({ 'a-expires-first': [0, 0], 'b-topup': [0, 60], 'c-reserve': [0, 0] });
    expect(await ledger.void(one.id, { httpStatus: 500, usageSource: 'none', latencyMs: 1 }, NOW)).toBe(true);
    const f = facts();
    expect((await ledger.admit(f, want(150), NOW, [])).ok).toBe(true);
    expect(await spentOf()).toEqual({ 'a-expires-first': [0, 50], 'b-topup': [0, 100], 'c-reserve': [0, 0] });
    await ledger.settle(f.id, used(250), LATER);
    expect(await spentOf()).toEqual({ 'a-expires-first': [100, 0], 'b-topup': [100, 0], 'c-reserve': [50, 0] });
    expect((await ledger.balance('acme', LATER)).grants.map((g) => [g.id, g.priority])).toEqual([
      ['b-topup', 0],
      ['a-expires-first', 1],
      ['c-reserve', 5],
    ]);
    // A create-only grant is inserted once: later terms for it change nothing, yet it stays present.
    await ledger.syncGrants([grant('r', { amount: 70, createOnly: true })], [], LATER);
    await ledger.syncGrants([grant('r', { amount: 99, createOnly: true })], [], LATER);
    expect((await ledger.reader.grants()).filter((g) => g.removedAt === null).map((g) => [g.id, g.amount])).toEqual([
      ['r', 70],
    ]);
    // Removed (its allocation left the config), then back: restored as it was.
    await ledger.syncGrants([], [], LATER);
    await ledger.syncGrants([grant('r', { amount: 99, createOnly: true })], [], LATER);
    expect((await ledger.reader.grants()).filter((g) => g.removedAt === null).map((g) => [g.id, g.amount])).toEqual([
      ['r', 70],
    ]);
  });

  it('refuses what the grants cannot cover, clamps when asked, and holds at least one token', async () => {
    await ledger.syncGrants([grant('g', { amount: 100 })], [], NOW);
    expect(await ledger.admit(facts(), want(150), NOW, [])).toEqual({
      ok: false,
      reason: 'balance',
      availableTokens: 100,
    });
    const clamped = await ledger.admit(facts(), want(150, { clamp: true }), NOW, []);
    expect(clamped).toMatchObject({ ok: true, holdTokens: 100, standing: { tokens: 0, unlimited: false } });
    expect(await ledger.admit(facts(), want(0), NOW, [])).toEqual({ ok: false, reason: 'balance', availableTokens: 0 });
    expect(await opened.raw.requestIds()).toHaveLength(1);
  });

  it('settles and voids once: a second settle or void changes nothing and says so', async () => {
    await ledger.syncGrants([grant('g')], [], NOW);
    const a = facts();
    const b = facts();
    await ledger.admit(a, want(100), NOW, []);
    await ledger.admit(b, want(100), NOW, []);
    expect(await ledger.settle(a.id, used(60), LATER)).toMatchObject({ grants: [{ id: 'g', spent: 60 }] });
    expect(
      await ledger.void(b.id, { httpStatus: 500, usageSource: 'none', latencyMs: 1, errorCode: 'server_error' }, LATER),
    ).toBe(true);
    const before = await opened.raw.snapshot();
    expect(await ledger.settle(a.id, used(60), LATER)).toBe(false);
    expect(await ledger.void(a.id, used(60), LATER)).toBe(false);
    expect(await ledger.settle(b.id, used(60), LATER)).toBe(false);
    expect(await ledger.settle('req_unknown', used(60), LATER)).toBe(false);
    expect(await opened.raw.snapshot()).toEqual(before);
    expect((await ledger.reader.rows({})).map((r) => [r.id, r.status, r.meteredTokens])).toEqual([
      [a.id, 'settled', 60],
      [b.id, 'voided', 0],
    ]);
  });

  it('withdraws an admission it did not confirm: the row voided and its hold released, once', async () => {
    await ledger.syncGrants([grant('g', { amount: 1000 })], [], NOW);
    const a = facts();
    await ledger.admit(a, want(100), NOW, []);
    const withdrawn = { httpStatus: 503, usageSource: 'none' as const, latencyMs: 0, errorCode: 'ledger_unavailable' };
    expect(await ledger.cancel(a, withdrawn, LATER)).toBe(true);
    expect(await spentOf()).toEqual({ g: [0, 0] });
    const before = await opened.raw.snapshot();
    expect(await ledger.cancel(a, withdrawn, LATER)).toBe(false);
    expect(await opened.raw.snapshot()).toEqual(before);
    expect((await ledger.reader.rows({})).map((r) => [r.id, r.status, r.errorCode])).toEqual([
      [a.id, 'voided', 'ledger_unavailable'],
    ]);
    expect((await ledger.reader.verify()).filter((x) => x.severity === 'error')).toEqual([]);
  });

  it('bills an upstream object once, whichever row sees it first', async () => {
    await ledger.syncGrants([grant('g')], [], NOW);
    const first = facts({ endpoint: '/v1/responses/resp_1' });
    const second = facts({ endpoint: '/v1/responses/resp_1' });
    await ledger.open(first, NOW);
    await ledger.open(second, NOW);
    await ledger.settle(first.id, used(30, { billedObject: { id: 'resp_1', kind: 'response' } }), LATER);
    await ledger.settle(second.id, used(30, { billedObject: { id: 'resp_1', kind: 'response' } }), LATER);
    const rows = await ledger.reader.rows({});
    expect(rows.map((r) => [r.meteredTokens, r.errorCode])).toEqual([
      [30, null],
      [0, 'already_billed'],
    ]);
    expect(await spentOf()).toEqual({ g: [30, 0] });
  });

  it('recovers open holds at start: charge_prompt bills the counted prompt, release nothing', async () => {
    await ledger.syncGrants([grant('g')], [], NOW);
    const a = facts({ estimatedPromptTokens: 25 });
    await ledger.admit(a, want(100), NOW, []);
    expect(await ledger.reader.openHolds()).toBe(1);
    // Priced for the row's model and company (whose fallback prices may be the only price it has).
    const priced: [string | null, string][] = [];
    const priceOf = (model: string | null, usage: { inputTokens: number }, company: string) => {
      priced.push([model, company]);
      return usage.inputTokens * 2;
    };
    expect(await ledger.recoverOpenHolds(LATER, 'charge_prompt', priceOf)).toEqual([a.id]);
    expect(priced).toEqual([[a.requestedModel, a.companyId]]);
    expect(await ledger.reader.openHolds()).toBe(0);
    const [row] = await ledger.reader.rows({});
    expect(row).toMatchObject({
      status: 'interrupted',
      meteredTokens: 25,
      costMicroUsd: 50,
      usageSource: 'estimated',
      errorCode: 'interrupted',
    });

    const b = facts({ estimatedPromptTokens: 25 });
    await ledger.admit(b, want(100), NOW, []);
    expect(await ledger.recoverOpenHolds(LATER, 'release', () => 99)).toEqual([b.id]);
    expect((await ledger.reader.rows({}))[1]).toMatchObject({
      status: 'interrupted',
      meteredTokens: 0,
      costMicroUsd: 0,
      usageSource: 'none',
    });
    expect(await spentOf()).toEqual({ g: [25, 0] });
  });

  it('holds quota windows with the grants, refuses by the quota that cannot cover, and charges them at settle', async () => {
    await ledger.syncGrants([grant('g', { amount: 10_000 })], [], NOW);
    const daily: QuotaCheck = {
      counterId: 'user:acme/alice:daily:2026-11-22',
      scope: 'user',
      scopeId: 'acme/alice',
      window: 'daily',
      windowKey: '2026-11-22',
      limitTokens: 150,
      resetsAt: new Date('2026-11-23T00:00:00.000Z'),
    };
    const a = facts({ userId: 'alice' });
    const admitted = await ledger.admit(a, want(100), NOW, [daily]);
    expect(admitted).toMatchObject({
      ok: true,
      holdTokens: 100,
      standing: { quotas: [{ check: daily, remainingTokens: 50 }] },
    });
    expect(await ledger.admit(facts({ userId: 'alice' }), want(100), NOW, [daily])).toEqual({
      ok: false,
      reason: 'quota',
      quota: daily,
      availableTokens: 50,
    });
    expect(await ledger.settle(a.id, used(80), LATER)).toMatchObject({
      counters: [{ id: daily.counterId, spentTokens: 80, heldTokens: 0 }],
    });
    expect((await ledger.admit(facts({ userId: 'alice' }), want(70), NOW, [daily])).ok).toBe(true);
  });

  it('mirrors grant edits and removals from then on, and refuses a grant moved between companies or changing unit after use', async () => {
    await ledger.syncGrants(
      [grant('g', { amount: 100 }), grant('h', { amount: 50 })],
      [
        {
          id: 'p',
          date: '2026-10-01',
          totalTokens: 1000,
          costPerTokenUsd: 0.000002,
          provider: 'openai',
          expiresAt: null,
          notes: null,
        },
      ],
      NOW,
    );
    const a = facts();
    await ledger.admit(a, want(40), NOW, []);
    await ledger.settle(a.id, used(40), LATER);
    await ledger.syncGrants(
      [grant('g', { amount: 500, purchaseId: 'p' })],
      [
        {
          id: 'p',
          date: '2026-10-01',
          totalTokens: 1000,
          costPerTokenUsd: 0.000002,
          provider: 'openai',
          expiresAt: null,
          notes: null,
        },
      ],
      LATER,
    );
    const balance = await ledger.balance('acme', LATER);
    expect(balance.tokens).toBe(460);
    expect(balance.grants.map((g) => [g.id, g.amount, g.spent, g.purchaseId])).toEqual([['g', 500, 40, 'p']]);
    expect((await ledger.reader.grants()).find((g) => g.id === 'h')?.removedAt).toBe(LATER.toISOString());
    expect(await ledger.reader.purchases(['p', 'nope'])).toEqual([{ id: 'p', provider: 'openai', date: '2026-10-01' }]);
    expect(await ledger.reader.companies()).toEqual(['acme']);

    const before = await opened.raw.snapshot();
    await expect(ledger.syncGrants([grant('g', { companyId: 'globex' })], [], LATER)).rejects.toThrow(
      'allocation "g" moved from company "acme" to "globex"; give it a new id',
    );
    await expect(ledger.syncGrants([grant('g', { unit: 'micro_usd' })], [], LATER)).rejects.toThrow(
      'allocation "g" changed unit after use; give it a new id',
    );
    expect(await opened.raw.snapshot()).toEqual(before);
  });

  it('keeps quota-increase requests per company and user, and records each alert once', async () => {
    const req = (id: string, userId: string, createdAt: string) => ({
      id,
      createdAt,
      companyId: 'acme',
      userId,
      requested: { window: 'daily', tokens: 5000 },
      justification: 'demo day',
    });
    await ledger.quotaRequests.add(req('qr_1', 'alice', '2026-11-22T10:00:00.000Z'));
    await ledger.quotaRequests.add(req('qr_2', 'bob', '2026-11-22T11:00:00.000Z'));
    await ledger.quotaRequests.add({ ...req('qr_3', 'alice', '2026-11-22T12:00:00.000Z'), companyId: 'globex' });
    expect((await ledger.quotaRequests.list('acme')).map((r) => r.id)).toEqual(['qr_2', 'qr_1']);
    expect(await ledger.quotaRequests.list('acme', 'alice')).toEqual([
      req('qr_1', 'alice', '2026-11-22T10:00:00.000Z'),
    ]);

    const alert = {
      key: 'quota:x:0.8',
      kind: 'quota_warning' as const,
      companyId: 'acme',
      firedAt: NOW.toISOString(),
      payload: '{}',
    };
    expect(await ledger.alerts.record(alert)).toBe(true);
    expect(await ledger.alerts.record({ ...alert, firedAt: LATER.toISOString() })).toBe(false);
    await ledger.alerts.attempted(alert.key, null);
    await ledger.alerts.attempted(alert.key, LATER.toISOString());
    await expect(ledger.ping()).resolves.toBeUndefined();
  });
});
