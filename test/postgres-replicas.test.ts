import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPgLedger, type PgLedger } from '../src/ledger/postgres/index.js';
import { grantTerms, nextRequestId, requestFacts } from './ledger-contract/fixtures.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import { waitUntil } from './support/wait.js';

/**
 * Several processes on one Postgres ledger, at the port: admissions racing from two replicas never
 * both take the last tokens, and the holds of a replica that died are resolved once, by a survivor,
 * while a live replica's are never touched.
 */
let db: { name: string; url: string };
let opened: PgLedger[] = [];
const open = (liveness?: { heartbeatMs: number; lapseMs: number }) => {
  const ledger = openPgLedger({ url: db.url, liveness, poolSize: 6 });
  opened.push(ledger);
  return ledger;
};

// Each test its own database: recovery looks at every instance of the ledger.
beforeEach(async () => {
  db = await createDatabase();
});
afterEach(async () => {
  for (const l of opened) await l.close();
  opened = [];
  if (db) await dropDatabase(db.name);
});

const grant = (id: string, amount: number) => grantTerms({ id, amount });
const facts = (companyId = 'acme') =>
  requestFacts({ id: nextRequestId('req_', 8), companyId, keyId: null, estimatedPromptTokens: 7 });
const NOW = new Date('2026-11-30T12:00:00.000Z');
const want = { minTokens: 10, maxTokens: 10, clamp: false, maxPicoPerToken: 1 };

describe('two replicas on one Postgres ledger', () => {
  it('never admit more than the grant affords, however their admissions race', async () => {
    const a = open();
    const b = open();
    await a.syncGrants([grant('race', 1_000)], [], NOW);
    await b.syncGrants([grant('race', 1_000)], [], NOW); // idempotent: the second replica's sync changes nothing
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).admit(facts(), want, NOW, [])),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    expect(await a.reader.openHolds()).toBe(100);
    const [g] = await b.reader.grants();
    expect(g).toMatchObject({ held: 1_000, spent: 0 });
    expect((await a.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('resolve the holds of a replica whose heartbeat lapsed exactly once, never those of a live one, and take its late settlements once', async () => {
    await open().syncGrants([grant('g', 1_000_000)], [], NOW);
    // `dead` never heartbeats after registering: it stands for a process killed mid-request.
    const dead = open({ heartbeatMs: 3_600_000, lapseMs: 300 });
    const live = open({ heartbeatMs: 50, lapseMs: 300 });
    const deadIds: string[] = [];
    const liveIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = facts();
      expect((await dead.admit(f, want, NOW, [])).ok).toBe(true);
      deadIds.push(f.id);
      const g = facts();
      expect((await live.admit(g, want, NOW, [])).ok).toBe(true);
      liveIds.push(g.id);
    }
    // Two survivors start (each runs recovery, then reaps every 50 ms).
    const survivors = [open({ heartbeatMs: 50, lapseMs: 300 }), open({ heartbeatMs: 50, lapseMs: 300 })];
    const resolvedAtStart = (
      await Promise.all(survivors.map((s) => s.recoverOpenHolds(new Date(), 'charge_prompt', (_m, u) => u.inputTokens)))
    ).flat();
    expect(resolvedAtStart.filter((id) => liveIds.includes(id))).toEqual([]);
    const status = async (id: string) =>
      (await survivors[0]!.reader.rows({})).find((r) => r.id === id)?.status ?? 'held';
    await waitUntil(async () => (await Promise.all(deadIds.map(status))).every((s) => s === 'interrupted'), {
      timeoutMs: 10_000,
      what: "the dead replica's holds to be resolved",
    });
    // The live replica's rows are still held, and it settles them as usual.
    for (const id of liveIds) expect(await status(id)).toBe('held');
    for (const id of liveIds)
      expect(
        await live.settle(
          id,
          { httpStatus: 200, usageSource: 'upstream', meteredTokens: 9, costMicroUsd: 9, latencyMs: 1 },
          NOW,
        ),
      ).not.toBe(false);
    const resolvedRows = (await survivors[0]!.reader.rows({})).filter((r) => deadIds.includes(r.id));
    expect(resolvedRows.map((r) => [r.status, r.meteredTokens])).toEqual(deadIds.map(() => ['interrupted', 7]));
    // The interrupted outcomes are folded into the rollups before the late settlement replaces one of them.
    await survivors[0]!.rollups.catchUp();
    // The "dead" replica was only cut off: its late settlement lands, replacing the interrupted charge, exactly once.
    const real = { httpStatus: 200, usageSource: 'upstream' as const, meteredTokens: 9, costMicroUsd: 9, latencyMs: 1 };
    expect(await dead.settle(deadIds[0]!, real, NOW)).not.toBe(false);
    expect(await dead.settle(deadIds[0]!, real, NOW)).toBe(false);
    const rows = (await survivors[0]!.reader.rows({})).filter((r) => deadIds.includes(r.id));
    expect(rows.map((r) => [r.status, r.meteredTokens])).toEqual(
      deadIds.map((_, i) => (i === 0 ? ['settled', 9] : ['interrupted', 7])),
    );
    const [g] = await live.reader.grants();
    expect(g).toMatchObject({ held: 0, spent: 5 * 9 + 9 + 4 * 7 });
    // The rollups hold the settled outcome in place of the interrupted one, counted once.
    // A catch-up finds nothing to do while the other replica holds the fold lock: fold until none waits.
    await waitUntil(
      async () => {
        await survivors[0]!.rollups.catchUp();
        return (await live.rollups.status()).waiting === 0;
      },
      { what: 'every finished row folded' },
    );
    expect((await live.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('a withdrawn admission that reaches the store after its withdrawal writes nothing', async () => {
    const a = open();
    await a.syncGrants([grant('g', 1_000)], [], NOW);
    const f = facts();
    // The withdrawal (its request refused 503) lands first: the row is recorded voided…
    expect(
      await a.cancel(f, { httpStatus: 503, usageSource: 'none', latencyMs: 0, errorCode: 'ledger_unavailable' }, NOW),
    ).toBe(true);
    // …so the admission, held back on a stalled connection and delivered later, takes nothing.
    await expect(a.admit(f, want, NOW, [])).rejects.toThrow();
    const [g] = await a.reader.grants();
    expect(g).toMatchObject({ held: 0, spent: 0 });
    expect((await a.reader.rows({})).map((r) => [r.id, r.status])).toEqual([[f.id, 'voided']]);
    expect((await a.reader.verify()).filter((x) => x.severity === 'error')).toEqual([]);
  });
});
