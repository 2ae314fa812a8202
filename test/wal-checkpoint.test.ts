import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../src/ledger/port.js';
import type { Checkpointer } from '../src/ledger/sqlite/checkpointer.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite/index.js';
import { SqlThread } from '../src/ledger/sqlite/thread.js';
import { hold, requestFacts } from './ledger-contract/fixtures.js';
import { waitUntil } from './support/wait.js';

/**
 * WAL checkpoints run on the checkpoint thread, never inside a commit on the event loop: the
 * serving connection's auto-checkpoint is off, and the thread keeps the WAL bounded under steady
 * writes by restarting it (holding the group-commit queue, not the event loop, while it does): the
 * next commit writes the WAL from its start, so the file stops growing — and no admitted or
 * settled row is lost on the way. The folder's and archiver's thread never checkpoints either: its
 * commits run while the queue is held, and a checkpoint (copy and two fsyncs) inside one made every
 * request queued meanwhile wait for it.
 */
const NOW = new Date('2026-11-30T10:00:00.000Z');
const RESET_PAGES = 16; // 64 KiB: each burst below writes several times that
const PAGE = 4096;

const dirs: string[] = [];
const open: SqliteLedger[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const facts = () => requestFacts();
const want = hold(100);
const used: Outcome = {
  httpStatus: 200,
  usage: { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningTokens: 0, totalTokens: 15 },
  usageSource: 'upstream',
  meteredTokens: 15,
  costMicroUsd: 15,
  latencyMs: 1,
};

describe('WAL checkpoints', () => {
  it('stay off the serving connection, keep the WAL bounded under bursts of writes, and lose no row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-wal-'));
    dirs.push(dir);
    const path = join(dir, 'ledger.db');
    const wal = () => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
    const ledger = openSqliteLedger({ path, walResetPages: RESET_PAGES });
    open.push(ledger);
    const internals = ledger as unknown as { handle: { sqlite: Database.Database }; checkpointer: Checkpointer };
    const serving = internals.handle.sqlite;
    expect(serving.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await ledger.syncGrants(
      [
        {
          id: 'g',
          companyId: 'acme',
          unit: 'tokens',
          amount: 0,
          unlimited: true,
          models: null,
          startsAt: null,
          expiresAt: null,
          purchaseId: null,
          note: null,
        },
      ],
      [],
      NOW,
    );

    const ids: string[] = [];
    let oneBurst = 0;
    for (let burst = 0; burst < 8; burst++) {
      const restarts = internals.checkpointer.resets;
      const batch = Array.from({ length: 150 }, facts);
      ids.push(...batch.map((f) => f.id));
      const admitted = await Promise.all(batch.map((f) => ledger.admit(f, want, NOW, [])));
      expect(admitted.every((a) => a.ok)).toBe(true);
      const settled = await Promise.all(batch.map((f) => ledger.settle(f.id, used, NOW)));
      expect(settled.every((s) => s !== false)).toBe(true);
      if (burst === 0) oneBurst = wal();
      // Each burst writes several times RESET_PAGES: the thread restarts the WAL before the next one.
      await waitUntil(() => internals.checkpointer.resets > restarts, {
        timeoutMs: 15_000,
        what: `a WAL restart after burst ${burst} (WAL ${wal()} bytes)`,
      });
    }
    // Without restarts the file would hold all 8 bursts; restarted, it is written over from its start.
    expect(oneBurst).toBeGreaterThan(RESET_PAGES * PAGE);
    expect(wal()).toBeLessThan(2 * oneBurst);
    await ledger.close();
    open.splice(0);

    const db = new Database(path, { readonly: true });
    const rows = db.prepare("SELECT id FROM requests WHERE status = 'settled' ORDER BY id").all() as { id: string }[];
    db.close();
    expect(rows.map((r) => r.id)).toEqual(ids);
  });

  it("never run inside a commit of the folder's or archiver's thread, which holds the commit queue", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-wal-'));
    dirs.push(dir);
    const ledger = openSqliteLedger({ path: join(dir, 'ledger.db') });
    open.push(ledger);
    const side = (ledger as unknown as { side: { query<T>(s: object): Promise<T> } }).side;
    expect(await side.query({ sql: 'PRAGMA wal_autocheckpoint', mode: 'get' })).toEqual({ wal_autocheckpoint: 0 });
  });

  it("a thread opened with walAutocheckpoint 0 leaves the database file alone past SQLite's 1,000 pages", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-wal-'));
    dirs.push(dir);
    const grown = async (walAutocheckpoint: number | undefined) => {
      const path = join(dir, `t${walAutocheckpoint ?? 'default'}.db`);
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (x BLOB)');
      db.pragma('wal_checkpoint(TRUNCATE)');
      const before = statSync(path).size;
      const thread = new SqlThread(path, { readonly: false, walAutocheckpoint });
      // 1,500 rows of 4 KiB: about 3,000 WAL pages in one commit.
      await thread.transaction([
        {
          sql: 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) INSERT INTO t SELECT randomblob(4000) FROM n',
          mode: 'run',
        },
      ]);
      const after = statSync(path).size;
      await thread.close();
      db.close();
      return after - before;
    };
    expect(await grown(0)).toBe(0);
    expect(await grown(undefined)).toBeGreaterThan(1_000 * PAGE);
  });
});
