import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ledger, RequestFacts } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, LATER, nextRequestId, NOW, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * The `forwarded` mark, for each adapter: a row admitted with `forwardedLater` whose request never
 * went upstream is resolved by crash recovery without charge, whatever the policy; once marked it
 * is charged by the policy like any other; a mark on a row no longer held changes nothing.
 */

const grant = grantTerms({ amount: 10_000 });
const facts = (extra: Partial<RequestFacts> = {}) =>
  requestFacts({ id: nextRequestId('req_fwd_'), estimatedPromptTokens: 25, ...extra });
const want = hold(100, { minTokens: 25 });
const used = tokensUsed(30);

describe.each(ADAPTERS)('the forwarded mark ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await openWithGrants(adapter, [grant], NOW);
    ledger = opened.ledger;
  });
  afterEach(() => opened.close());

  it('recovery charges a marked row by the policy and an unmarked one nothing', async () => {
    const sent = facts({ forwardedLater: true });
    const unsent = facts({ forwardedLater: true });
    const untracked = facts();
    for (const f of [sent, unsent, untracked]) expect((await ledger.admit(f, want, NOW, [])).ok).toBe(true);
    ledger.forwarded(sent.id);
    const resolved = await ledger.recoverOpenHolds(LATER, 'charge_prompt', (_model, usage) => usage.inputTokens * 2);
    expect(resolved.sort()).toEqual([sent.id, unsent.id, untracked.id].sort());
    const rows = new Map((await ledger.reader.rows({})).map((r) => [r.id, r]));
    const charged = { status: 'interrupted', meteredTokens: 25, costMicroUsd: 50, errorCode: 'interrupted' };
    expect(rows.get(sent.id)).toMatchObject(charged);
    expect(rows.get(untracked.id)).toMatchObject(charged);
    expect(rows.get(unsent.id)).toMatchObject({
      status: 'interrupted',
      meteredTokens: 0,
      costMicroUsd: 0,
      usageSource: 'none',
      errorCode: 'interrupted_before_upstream',
    });
    expect((await ledger.reader.grants()).map((g) => [g.spent, g.held])).toEqual([[50, 0]]);
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('a mark on a row settled, or unknown, changes nothing; a marked row settles as usual', async () => {
    const f = facts({ forwardedLater: true });
    await ledger.admit(f, want, NOW, []);
    ledger.forwarded(f.id);
    expect(await ledger.settle(f.id, used, LATER)).not.toBe(false);
    const before = await opened.raw.snapshot();
    ledger.forwarded(f.id);
    ledger.forwarded('req_never_admitted');
    expect(await ledger.recoverOpenHolds(LATER, 'charge_prompt', () => 1)).toEqual([]);
    expect(await opened.raw.snapshot()).toEqual(before);
    expect((await ledger.reader.rows({}))[0]).toMatchObject({ status: 'settled', meteredTokens: 30 });
  });
});
