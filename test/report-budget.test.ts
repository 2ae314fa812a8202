import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ReadTimeoutError } from '../src/ledger/port.js';
import { openPgLedger } from '../src/ledger/postgres/index.js';
import { openLedgerDb } from '../src/ledger/sqlite/db.js';
import { ReadPool } from '../src/ledger/sqlite/read-pool.js';
import { startTollgate } from './support/harness.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';

/**
 * Reports have a time budget and never hold the proxy: past it a read rejects at once with
 * `ReadTimeoutError` (the read API answers 503 `report_timeout` with retry-after), on SQLite while
 * the statement runs on in its own thread (never more threads than configured), on Postgres because
 * `statement_timeout` cancels it on the report connections.
 */

/** A statement that runs for seconds: counts to 20 million in a recursive CTE. */
const SLOW =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) AS n FROM c';

describe('SQLite read threads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-budget-'));
  const file = join(dir, 'ledger.db');
  openLedgerDb(file).sqlite.close();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers past the budget at once, keeps the loop free meanwhile, and keeps the stuck thread to itself', async () => {
    const pool = new ReadPool(file, 2, 10_000);
    try {
      await pool.query({ sql: 'SELECT 1 AS n', mode: 'get' });
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const started = performance.now();
      const slow = pool.query({ sql: SLOW, mode: 'get' }, 200);
      await expect(slow).rejects.toBeInstanceOf(ReadTimeoutError);
      const waited = performance.now() - started;
      clearInterval(ticker);
      expect(waited).toBeLessThan(2_000);
      // The event loop ran its 5 ms timer all along (it would not have run once were the statement on it).
      expect(ticks).toBeGreaterThan(5);
      // The other thread still answers; the stuck one takes nothing new until its statement ends.
      expect(await pool.query<{ n: number }>({ sql: 'SELECT 2 AS n', mode: 'get' })).toEqual({ n: 2 });
      await expect(pool.query({ sql: SLOW, mode: 'get' }, 100)).rejects.toBeInstanceOf(ReadTimeoutError);
      await expect(pool.query({ sql: 'SELECT 3 AS n', mode: 'get' }, 100)).rejects.toBeInstanceOf(ReadTimeoutError);
    } finally {
      await pool.close(0);
    }
  }, 60_000);
});

describe('Postgres report connections', () => {
  it('cancel a report past its budget (statement_timeout) without touching the serving pool', async () => {
    const db = await createDatabase();
    const ledger = openPgLedger({ url: db.url, reads: { timeoutMs: 300, threads: 1 } });
    const locker = new pg.Client({ connectionString: db.url });
    try {
      await ledger.ping();
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE requests IN ACCESS EXCLUSIVE MODE');
      await expect(ledger.reader.usage({}, 'day')).rejects.toBeInstanceOf(ReadTimeoutError);
      // The serving pool is not the reports': the hot path still answers.
      expect(await ledger.balance('acme', new Date())).toMatchObject({ companyId: 'acme' });
      await locker.query('ROLLBACK');
      expect(await ledger.reader.usage({}, 'none')).toEqual([expect.objectContaining({ requests: 0 })]);
    } finally {
      await locker.end().catch(() => {});
      await ledger.close();
      await dropDatabase(db.name);
    }
  }, 60_000);
});

describe('read API', () => {
  it('answers a report past its budget 503 report_timeout, OpenAI-shaped, with retry-after', async () => {
    const upstream = await new ScriptedUpstream().start();
    upstream.script = (_req, res) => json(res, 200, {});
    const tollgate = await startTollgate({
      upstreamUrl: upstream.url,
      ledger: { reports: { timeoutMs: 250, threads: 1 } },
    });
    try {
      const reader = tollgate.server.runtime.ledger.reader;
      const usage = reader.usage.bind(reader);
      reader.usage = () => Promise.reject(new ReadTimeoutError(250));
      const res = await fetch(`${tollgate.url}/tollgate/v1/usage?group_by=day`, {
        headers: { authorization: `Bearer ${tollgate.keys['acme-key']}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({
        error: {
          message: expect.stringMatching(/did not finish within 250 ms/),
          type: 'server_error',
          param: null,
          code: 'report_timeout',
        },
      });
      reader.usage = usage;
      const ok = await fetch(`${tollgate.url}/tollgate/v1/usage?group_by=day`, {
        headers: { authorization: `Bearer ${tollgate.keys['acme-key']}` },
      });
      expect(ok.status).toBe(200);
    } finally {
      await tollgate.close();
      await upstream.close();
    }
  });
});
