import { afterEach, describe, expect, it } from 'vitest';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, NOW, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * Where an open hold is kept, for each adapter: a hold on one grant rides on its request row
 * (`hold_grant_id`, `hold_amount`; no `holds` row), one spread over several grants is in `holds`;
 * either is released once by its settlement, and `verify` sums both places.
 */

const small = grantTerms({ id: 'g1', amount: 50 });
const large = grantTerms({ id: 'g2', amount: 1000 });

describe.each(ADAPTERS)('where a hold is kept ($name)', (adapter) => {
  let opened: OpenedLedger;
  afterEach(() => opened.close());

  const holdsTable = async () =>
    (await opened.raw.query('SELECT request_id, grant_id, amount FROM holds ORDER BY grant_id')).map((r) => ({
      ...r,
      amount: Number(r.amount),
    }));
  const onRow = async (id: string) => {
    const [r] = await opened.raw.query(`SELECT hold_grant_id, hold_amount FROM requests WHERE id = '${id}'`);
    return { grant: r!.hold_grant_id ?? null, amount: r!.hold_amount === null ? null : Number(r!.hold_amount) };
  };
  const held = async () => Object.fromEntries((await opened.ledger.reader.grants()).map((g) => [g.id, g.held]));
  const errors = async () => (await opened.ledger.reader.verify()).filter((f) => f.severity === 'error');

  it('a hold on one grant rides on the row, one over several grants is in holds, and each is released once', async () => {
    opened = await openWithGrants(adapter, [small, large], NOW);
    const ledger = opened.ledger;
    // Burn order takes g1 (lower id at equal terms) first: 40 fits it alone; 100 spreads over both.
    const one = requestFacts();
    const two = requestFacts();
    expect(await ledger.admit(one, hold(40, { minTokens: 40 }), NOW, [])).toMatchObject({ ok: true, holdTokens: 40 });
    expect(await onRow(one.id)).toEqual({ grant: 'g1', amount: 40 });
    expect(await holdsTable()).toEqual([]);
    expect(await ledger.admit(two, hold(100, { minTokens: 100 }), NOW, [])).toMatchObject({
      ok: true,
      holdTokens: 100,
    });
    expect(await onRow(two.id)).toEqual({ grant: null, amount: null });
    expect(await holdsTable()).toEqual([
      { request_id: two.id, grant_id: 'g1', amount: 10 },
      { request_id: two.id, grant_id: 'g2', amount: 90 },
    ]);
    expect(await held()).toEqual({ g1: 50, g2: 90 });
    expect(await errors()).toEqual([]);

    expect(await ledger.settle(one.id, tokensUsed(30), NOW)).not.toBe(false);
    expect(await held()).toEqual({ g1: 10, g2: 90 });
    // Settled twice: nothing more is released.
    expect(await ledger.settle(one.id, tokensUsed(30), NOW)).toBe(false);
    expect(await ledger.void(two.id, { httpStatus: 500, latencyMs: 1, usageSource: 'none' }, NOW)).toBe(true);
    expect(await held()).toEqual({ g1: 0, g2: 0 });
    expect(await holdsTable()).toEqual([]);
    expect(await errors()).toEqual([]);
  });

  if (adapter.name === 'postgres')
    it('a row whose one-grant hold is in holds (admitted by a replica not yet upgraded) settles as before', async () => {
      opened = await openWithGrants(adapter, [small, large], NOW);
      const f = requestFacts();
      expect(await opened.ledger.admit(f, hold(40, { minTokens: 40 }), NOW, [])).toMatchObject({ ok: true });
      await opened.raw.exec(
        `INSERT INTO holds (request_id, grant_id, amount) SELECT id, hold_grant_id, hold_amount FROM requests WHERE id = '${f.id}';
         UPDATE requests SET hold_grant_id = NULL, hold_amount = NULL WHERE id = '${f.id}'`,
      );
      expect(await errors()).toEqual([]);
      expect(await opened.ledger.settle(f.id, tokensUsed(30), NOW)).not.toBe(false);
      expect(await held()).toEqual({ g1: 0, g2: 0 });
      expect(await holdsTable()).toEqual([]);
      expect(await errors()).toEqual([]);
    });
});
