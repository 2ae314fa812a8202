import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeferredRequest, Ledger } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { at, grantTerms, NOW as T0, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * The `deferred` store of the port, for each adapter: a held row deferred on an upstream object
 * keeps its hold, recovery leaves it alone, the settler claims due objects once (a lapsed claim is
 * claimable again), reschedules, nudges and removes them, and settling twice bills once.
 */

const grant = grantTerms({ amount: 10_000 });
const facts = () => requestFacts({ endpoint: '/v1/responses' });
const req = (requestId: string, id: string): DeferredRequest => ({
  id,
  kind: 'response',
  requestId,
  companyId: 'acme',
  model: 'gpt-4o-mini',
  multiplier: 1.5,
  promptTokens: 10,
  subject: 'key:acme-key',
});
const used = (tokens: number, id: string) => tokensUsed(tokens, { billedObject: { id, kind: 'response' } });

describe.each(ADAPTERS)('deferred objects ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await openWithGrants(adapter, [grant], T0);
    ledger = opened.ledger;
  });
  afterEach(async () => {
    await opened.close();
  });

  /** Admits a request holding 100 tokens and defers it on `id`, due `dueMs` after T0. */
  const deferred = async (id: string, dueMs = 1000) => {
    const f = facts();
    await ledger.admit(f, { minTokens: 10, maxTokens: 100, clamp: false, maxPicoPerToken: 1_000_000 }, T0, []);
    expect(await ledger.deferred.defer(req(f.id, id), at(dueMs), T0)).toBe(true);
    return f;
  };
  const held = async () => (await ledger.balance('acme', T0)).grants[0]!.held;

  it('keeps the hold of a deferred row, lists it, and refuses to defer a row twice or one not held', async () => {
    const f = await deferred('resp_a');
    expect(await held()).toBe(100);
    expect(await ledger.deferred.list()).toEqual([
      {
        id: 'resp_a',
        kind: 'response',
        requestId: f.id,
        companyId: 'acme',
        model: 'gpt-4o-mini',
        multiplier: 1.5,
        promptTokens: 10,
        subject: 'key:acme-key',
        deferredAt: T0.toISOString(),
        nextPollAt: at(1000).toISOString(),
        polls: 0,
        misses: 0,
      },
    ]);
    expect(await ledger.deferred.defer(req(f.id, 'resp_b'), at(1), T0)).toBe(false);
    expect(await ledger.deferred.defer(req('req_none', 'resp_c'), at(1), T0)).toBe(false);
    const other = facts();
    await ledger.open(other, T0);
    await ledger.settle(other.id, used(0, 'resp_x'), T0);
    expect(await ledger.deferred.defer(req(other.id, 'resp_d'), at(1), T0)).toBe(false);
    expect((await ledger.deferred.list()).map((d) => d.id)).toEqual(['resp_a']);
  });

  it('crash recovery leaves deferred rows held and resolves the others', async () => {
    const f = await deferred('resp_a');
    const plain = facts();
    await ledger.admit(plain, { minTokens: 10, maxTokens: 50, clamp: false, maxPicoPerToken: 1_000_000 }, T0, []);
    expect(await ledger.recoverOpenHolds(at(5), 'charge_prompt', () => 1)).toEqual([plain.id]);
    expect(await held()).toBe(100);
    expect((await ledger.reader.rows({})).find((r) => r.id === f.id)).toBeUndefined(); // still held: not a finished row
    expect((await ledger.deferred.list()).map((d) => d.requestId)).toEqual([f.id]);
  });

  it('claims due objects once, earliest first; a claim lapses after its lease', async () => {
    await deferred('resp_late', 5000);
    await deferred('resp_early', 1000);
    expect(await ledger.deferred.claimDue(at(500), 10, 60_000)).toEqual([]);
    expect((await ledger.deferred.claimDue(at(6000), 10, 60_000)).map((d) => d.id)).toEqual([
      'resp_early',
      'resp_late',
    ]);
    // Claimed: nobody else gets them until the lease lapses.
    expect(await ledger.deferred.claimDue(at(7000), 10, 60_000)).toEqual([]);
    expect((await ledger.deferred.claimDue(at(66_001), 1, 60_000)).map((d) => d.id)).toEqual(['resp_early']);
  });

  it('a claim left by a stopped settler: SQLite recovery releases it at start; elsewhere it lapses with its lease', async () => {
    await deferred('resp_a', 10);
    expect((await ledger.deferred.claimDue(at(100), 10, 60_000)).map((d) => d.id)).toEqual(['resp_a']);
    await ledger.recoverOpenHolds(at(200), 'charge_prompt', () => 1);
    const again = (await ledger.deferred.claimDue(at(300), 10, 60_000)).map((d) => d.id);
    expect(again).toEqual(adapter.name === 'sqlite' ? ['resp_a'] : []);
    expect((await ledger.deferred.claimDue(at(60_101), 10, 60_000)).map((d) => d.id)).toEqual(
      adapter.name === 'sqlite' ? [] : ['resp_a'],
    );
  });

  it('two settlers claiming at once never get the same object', async () => {
    for (let i = 0; i < 20; i++) await deferred(`resp_${i}`, 10);
    const [a, b] = await Promise.all([
      ledger.deferred.claimDue(at(100), 15, 60_000),
      ledger.deferred.claimDue(at(100), 15, 60_000),
    ]);
    const ids = [...a, ...b].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(20);
  });

  it('reschedules (counting polls and misses, ending the claim), nudges and removes', async () => {
    await deferred('resp_a', 1000);
    const [claimed] = await ledger.deferred.claimDue(at(1000), 10, 60_000);
    expect(claimed).toMatchObject({ id: 'resp_a', polls: 0 });
    expect(await ledger.deferred.nudge('resp_a', at(1001))).toBe(true); // pending, but claimed: not moved
    await ledger.deferred.reschedule('resp_a', at(9000), 2);
    expect((await ledger.deferred.list())[0]).toMatchObject({
      polls: 1,
      misses: 2,
      nextPollAt: at(9000).toISOString(),
    });
    expect(await ledger.deferred.claimDue(at(2000), 10, 60_000)).toEqual([]);
    expect(await ledger.deferred.nudge('resp_a', at(2000))).toBe(true);
    expect((await ledger.deferred.claimDue(at(2000), 10, 60_000)).map((d) => d.id)).toEqual(['resp_a']);
    expect(await ledger.deferred.nudge('resp_none', at(2000))).toBe(false);
    await ledger.deferred.remove('resp_a');
    expect(await ledger.deferred.list()).toEqual([]);
    expect(await ledger.deferred.nudge('resp_a', at(2000))).toBe(false);
  });

  it('settling a deferred row twice bills it once', async () => {
    const f = await deferred('resp_a');
    expect(await ledger.settle(f.id, used(70, 'resp_a'), at(10))).not.toBe(false);
    expect(await ledger.settle(f.id, used(70, 'resp_a'), at(11))).toBe(false);
    expect(await ledger.void(f.id, { httpStatus: 200, usageSource: 'none', latencyMs: 0 }, at(12))).toBe(false);
    await ledger.deferred.remove('resp_a');
    const balance = (await ledger.balance('acme', at(20))).grants[0]!;
    expect([balance.spent, balance.held]).toEqual([70, 0]);
  });
});
