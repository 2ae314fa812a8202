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

  it('a mark made before another request settles is kept (Postgres: it rides that settlement)', async () => {
    const running = facts({ forwardedLater: true });
    const done = facts({ forwardedLater: true });
    for (const f of [running, done]) expect((await ledger.admit(f, want, NOW, [])).ok).toBe(true);
    ledger.forwarded(running.id);
    ledger.forwarded(done.id);
    expect(await ledger.settle(done.id, used, LATER)).not.toBe(false);
    expect(await ledger.recoverOpenHolds(LATER, 'charge_prompt', (_model, usage) => usage.inputTokens * 2)).toEqual([
      running.id,
    ]);
    const rows = new Map((await ledger.reader.rows({})).map((r) => [r.id, r]));
    expect(rows.get(running.id)).toMatchObject({ status: 'interrupted', meteredTokens: 25, errorCode: 'interrupted' });
    expect(rows.get(done.id)).toMatchObject({ status: 'settled', meteredTokens: 30 });
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

  it('a prompt admission did not count is counted with the mark of a row still held, and only then', async () => {
    // Held on a bound of its prompt (`exact` not needed: the grant has room), its row records no prompt.
    const counts: string[] = [];
    const lazy = (id: string, tokens: number) => ({ tokens: () => (counts.push(id), tokens) });
    const bound = (tokens: number) =>
      hold(120, {
        minTokens: 100,
        exact: () => ({ want: hold(60, { minTokens: tokens }), promptTokens: tokens }),
      });
    const open = facts({ forwardedLater: true, estimatedPromptTokens: 0 });
    const done = facts({ forwardedLater: true, estimatedPromptTokens: 0 });
    for (const f of [open, done]) expect(await ledger.admit(f, bound(40), NOW, [])).toMatchObject({ ok: true });
    expect(await ledger.settle(done.id, used, NOW)).not.toBe(false);
    ledger.forwarded(open.id, lazy(open.id, 40));
    ledger.forwarded(done.id, lazy(done.id, 40));
    await ledger.recoverOpenHolds(LATER, 'charge_prompt', (_model, usage) => usage.inputTokens * 2);
    const rows = new Map((await ledger.reader.rows({})).map((r) => [r.id, r]));
    expect(rows.get(open.id)).toMatchObject({ status: 'interrupted', meteredTokens: 40, costMicroUsd: 80 });
    expect(rows.get(done.id)).toMatchObject({ status: 'settled', meteredTokens: 30 });
    // Counted when the mark of a row still held is written, never at admission (the grant had ample
    // room). (A worker counts where the prompt is, before the owner sees whether the row is held.)
    if (adapter.name !== 'sqlite-worker') expect(counts).toEqual([open.id]);
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('a bound that does not fit what is left is decided on the counted prompt', async () => {
    const f = facts({ forwardedLater: true, estimatedPromptTokens: 0 });
    let counted = 0;
    const want = hold(20_000, {
      minTokens: 19_000,
      exact: () => ((counted += 1), { want: hold(9_000, { minTokens: 60 }), promptTokens: 60 }),
    });
    expect(await ledger.admit(f, want, NOW, [])).toMatchObject({ ok: true, holdTokens: 9_000 });
    expect(counted).toBeGreaterThanOrEqual(1);
    // Its row records the counted prompt: once sent, a crash charges it.
    ledger.forwarded(f.id);
    await ledger.recoverOpenHolds(LATER, 'charge_prompt', () => 0);
    expect((await ledger.reader.rows({}))[0]).toMatchObject({ status: 'interrupted', meteredTokens: 60 });
  });
});
