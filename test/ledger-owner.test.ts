import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite/index.js';
import { OwnerBuckets } from '../src/ledger/sqlite/owner-memory.js';
import { RemoteLedger } from '../src/ledger/sqlite/remote.js';
import { grantTerms, hold, LATER, NOW, requestFacts, tokensUsed } from './ledger-contract/fixtures.js';
import { loopbackChannel } from './support/loopback-owner.js';

/**
 * The owner of a SQLite ledger for `serve --workers N`, with two workers on it: what the contract
 * suite cannot see with one — a dead worker's rows go to the next worker's recovery, once, and the
 * live workers' rows are left alone; a dead worker's calls still in the pipe write nothing; a
 * bucket lock held by a worker that died is released.
 */
let dir: string;
let owned: SqliteLedger;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-owner-'));
  owned = openSqliteLedger({ path: join(dir, 'ledger.db'), checkpointThread: false });
});
afterEach(async () => {
  await owned.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the ledger owner of serve --workers on SQLite', () => {
  it('resolves a dead worker’s held rows once, at the next worker’s start, and leaves a live worker’s alone', async () => {
    const first = loopbackChannel(owned, 1);
    const a = new RemoteLedger(join(dir, 'ledger.db'), first.channel);
    const b = new RemoteLedger(join(dir, 'ledger.db'), loopbackChannel(owned, 2, undefined, first.owner).channel);
    await a.syncGrants([grantTerms({ amount: 10_000 })], [], NOW);
    const ofA = requestFacts({ estimatedPromptTokens: 25 });
    const ofB = requestFacts();
    expect(await a.admit(ofA, hold(100), NOW, [])).toMatchObject({ ok: true });
    expect(await b.admit(ofB, hold(100), NOW, [])).toMatchObject({ ok: true });
    first.owner.forget(1); // worker 1 died
    // Its calls still in the pipe are dropped: nothing more is written for it.
    const late = a.admit(requestFacts(), hold(100), NOW, []);
    const c = new RemoteLedger(join(dir, 'ledger.db'), loopbackChannel(owned, 3, undefined, first.owner).channel);
    expect(await c.recoverOpenHolds(LATER, 'charge_prompt', (_m, usage) => usage.inputTokens * 3)).toEqual([ofA.id]);
    expect(await c.recoverOpenHolds(LATER, 'charge_prompt', () => 1)).toEqual([]);
    const rows = new Map((await c.reader.rows({})).map((r) => [r.id, r]));
    expect(rows.get(ofA.id)).toMatchObject({ status: 'interrupted', meteredTokens: 25, costMicroUsd: 75 });
    expect(rows.size).toBe(1); // b's row is still held (rows() lists finished ones)
    expect(await c.reader.openHolds()).toBe(1);
    expect(await b.settle(ofB.id, tokensUsed(30), LATER)).not.toBe(false);
    expect((await c.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
    expect(await Promise.race([late.then(() => 'answered'), c.ping().then(() => 'not answered')])).toBe('not answered');
    await Promise.all([b.close(), c.close()]);
  });

  it('releases the bucket lock of a worker that died holding it', async () => {
    const buckets = new OwnerBuckets();
    expect(await buckets.lock(1, ['k:requests'])).toEqual([]);
    let taken: number[] | undefined;
    const take = buckets.take(['k:requests'], [60], [1], 0).then((levels) => (taken = levels));
    await new Promise((r) => setImmediate(r)); // a turn: the take waits on the lock, not on the loop
    expect(taken).toBeUndefined();
    buckets.release(2); // not the holder: nothing changes
    expect(taken).toBeUndefined();
    buckets.release(1);
    await take;
    expect(taken).toEqual([60]);
  });
});
