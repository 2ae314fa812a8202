import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite/index.js';
import { grantTerms, hold, NOW, requestFacts, tokensUsed } from './ledger-contract/fixtures.js';

/**
 * The SQLite adapter's state in memory (grants, counters, open holds) against its file: a group
 * commit that rolls back (one call in it fails) and a grant sync leave the two in agreement.
 */
const grant = (amount: number) => grantTerms({ amount });
const facts = (id: string) => requestFacts({ id, keyId: 'k' });
const want = hold(100);
const used = (tokens: number) => tokensUsed(tokens, { costMicroUsd: 0 });

let dir: string;
let ledger: SqliteLedger;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-state-'));
  ledger = openSqliteLedger({ path: join(dir, 'ledger.db'), checkpointThread: false });
  await ledger.syncGrants([grant(1000)], [], NOW);
});
afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const standing = async () => (await ledger.reader.grants()).map((g) => [g.spent, g.held]);
const errors = async () => (await ledger.reader.verify()).filter((f) => f.severity === 'error');

it('a batch rolled back by one failing call leaves memory and file in agreement', async () => {
  await ledger.admit(facts('req_a'), want, NOW, []);
  // One turn: a settle, a new hold, and a duplicate id that fails and rolls the batch back.
  const calls = [
    ledger.settle('req_a', used(40), NOW),
    ledger.admit(facts('req_b'), want, NOW, []),
    ledger.admit(facts('req_b'), want, NOW, []),
  ];
  const [settled, first, duplicate] = await Promise.allSettled(calls);
  expect(settled!.status).toBe('fulfilled');
  expect(first).toMatchObject({ status: 'fulfilled', value: { ok: true } });
  expect(duplicate!.status).toBe('rejected');
  expect(await standing()).toEqual([[40, 100]]);
  // What memory carries after the rollback agrees with the file: the next calls add up.
  expect(await ledger.settle('req_b', used(30), NOW)).not.toBe(false);
  expect(await ledger.settle('req_b', used(30), NOW)).toBe(false);
  const c = await ledger.admit(facts('req_c'), { ...want, maxTokens: 930 }, NOW, []);
  expect(c).toMatchObject({ ok: true, holdTokens: 930, standing: { tokens: 0 } });
  expect(await standing()).toEqual([[70, 930]]);
  expect(await errors()).toEqual([]);
});

it('a grant sync is seen by the next admission; held and spent carry over', async () => {
  await ledger.admit(facts('req_a'), want, NOW, []);
  await ledger.syncGrants([grant(150)], [], NOW);
  expect(await ledger.admit(facts('req_b'), want, NOW, [])).toMatchObject({ ok: false, availableTokens: 50 });
  await ledger.syncGrants([grant(400)], [], NOW);
  expect(await ledger.admit(facts('req_c'), want, NOW, [])).toMatchObject({ ok: true, standing: { tokens: 200 } });
  await ledger.settle('req_a', used(100), NOW);
  expect(await standing()).toEqual([[100, 100]]);
  expect(await errors()).toEqual([]);
});

it('keeps a hold on one grant on its row and a spread one in holds; both count, end with the row, and survive a restart', async () => {
  const path = join(dir, 'ledger.db');
  const q = (sql: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  };
  await ledger.syncGrants([grantTerms({ id: 'g1', amount: 100 }), grantTerms({ id: 'g2', amount: 1000 })], [], NOW);
  await ledger.admit(facts('req_one'), hold(60), NOW, []);
  await ledger.admit(facts('req_two'), hold(100), NOW, []);
  expect(q('SELECT id, hold_grant_id, hold_amount FROM requests ORDER BY id')).toEqual([
    { id: 'req_one', hold_grant_id: 'g1', hold_amount: 60 },
    { id: 'req_two', hold_grant_id: null, hold_amount: null },
  ]);
  expect(q('SELECT request_id, grant_id, amount FROM holds ORDER BY grant_id')).toEqual([
    { request_id: 'req_two', grant_id: 'g1', amount: 40 },
    { request_id: 'req_two', grant_id: 'g2', amount: 60 },
  ]);
  expect(q('SELECT request_id, grant_id, amount FROM open_holds ORDER BY request_id, grant_id')).toEqual([
    { request_id: 'req_one', grant_id: 'g1', amount: 60 },
    { request_id: 'req_two', grant_id: 'g1', amount: 40 },
    { request_id: 'req_two', grant_id: 'g2', amount: 60 },
  ]);
  expect(await errors()).toEqual([]);
  // A restart forgets what memory carried: the holds are read back from the row and from holds.
  await ledger.close();
  ledger = openSqliteLedger({ path, checkpointThread: false });
  expect(await ledger.settle('req_one', used(50), NOW)).not.toBe(false);
  expect(await ledger.settle('req_two', used(70), NOW)).not.toBe(false);
  expect(q('SELECT COUNT(*) AS n FROM open_holds')).toEqual([{ n: 0 }]);
  expect(q('SELECT COUNT(*) AS n FROM holds')).toEqual([{ n: 0 }]);
  const both = (await ledger.reader.grants()).filter((g) => g.id !== 'g');
  expect(both.map((g) => [g.id, g.spent, g.held])).toEqual([
    ['g1', 100, 0],
    ['g2', 20, 0],
  ]);
  expect(await errors()).toEqual([]);
});
