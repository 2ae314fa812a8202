import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertRecord, Ledger, QuotaCheck } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, LATER, NOW, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/** The reads the dashboard adds to the port (`quotaCounters`, `openHoldsByCompany`, `recentAlerts`), for each adapter. */

const grant = (id: string, companyId = 'acme') => grantTerms({ id, companyId });
const facts = (id: string, companyId = 'acme', userId: string | null = null) =>
  requestFacts({ id, companyId, keyId: null, userId });
const want = (maxTokens: number) => hold(maxTokens, { minTokens: 10 });
const used = (tokens: number) => tokensUsed(tokens);
const daily: QuotaCheck = {
  counterId: 'user:acme/alice:daily:2026-11-22',
  scope: 'user',
  scopeId: 'acme/alice',
  window: 'daily',
  windowKey: '2026-11-22',
  limitTokens: 500,
  resetsAt: new Date('2026-11-23T00:00:00.000Z'),
};
const alert = (key: string, companyId: string, firedAt: string): AlertRecord => ({
  key,
  kind: 'quota_warning',
  companyId,
  firedAt,
  payload: JSON.stringify({ key }),
});

describe.each(ADAPTERS)('dashboard reads ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await openWithGrants(adapter, [grant('acme-g'), grant('globex-g', 'globex')], NOW);
    ledger = opened.ledger;
  });
  afterEach(() => opened.close());

  it('quota counters by id (held, then spent), and open holds per company', async () => {
    expect(await ledger.reader.quotaCounters([])).toEqual([]);
    expect(await ledger.reader.openHoldsByCompany()).toEqual({});
    expect((await ledger.admit(facts('req_a', 'acme', 'alice'), want(100), NOW, [daily])).ok).toBe(true);
    expect((await ledger.admit(facts('req_b', 'globex'), want(50), NOW, [])).ok).toBe(true);
    expect(await ledger.reader.openHoldsByCompany()).toEqual({ acme: 1, globex: 1 });
    const held = await ledger.reader.quotaCounters([daily.counterId, 'user:acme/nobody:daily:2026-11-22']);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ id: daily.counterId, spentTokens: 0, heldTokens: 100 });
    await ledger.settle('req_a', used(60), LATER);
    expect((await ledger.reader.quotaCounters([daily.counterId]))[0]).toMatchObject({ spentTokens: 60, heldTokens: 0 });
    expect(await ledger.reader.openHoldsByCompany()).toEqual({ globex: 1 });
  });

  it("a company's recent alerts, newest first, at most `limit`, never another company's", async () => {
    await ledger.alerts.record(alert('a1', 'acme', '2026-11-22T10:00:00.000Z'));
    await ledger.alerts.record(alert('g1', 'globex', '2026-11-22T10:30:00.000Z'));
    await ledger.alerts.record(alert('a2', 'acme', '2026-11-22T11:00:00.000Z'));
    expect((await ledger.reader.recentAlerts('acme', 10)).map((a) => a.key)).toEqual(['a2', 'a1']);
    expect((await ledger.reader.recentAlerts('acme', 1)).map((a) => a.key)).toEqual(['a2']);
    expect(await ledger.reader.recentAlerts('globex', 10)).toEqual([alert('g1', 'globex', '2026-11-22T10:30:00.000Z')]);
    expect(await ledger.reader.recentAlerts('initech', 10)).toEqual([]);
  });
});
