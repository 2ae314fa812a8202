import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveLedger } from '../src/ledger/archive/run.js';
import { openLedger } from '../src/ledger/open.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { NOW, seedLedger } from './ledger-contract/report-fixture.js';
import { createDatabase, dropDatabase } from './support/postgres.js';

/**
 * Moving up: `tollgate ledger copy` copies a SQLite ledger (two companies, every kind of grant,
 * settled, voided and held rows, object owners) into an empty Postgres ledger; both verify, and every report reads
 * the same from either. A second copy into the now non-empty target is refused and writes nothing.
 */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 60_000,
  });

let dir: string;
let file: string;
let db: { name: string; url: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-copy-'));
  file = join(dir, 'ledger.db');
  const ledger = openSqliteLedger({ path: file, checkpointThread: false });
  await seedLedger(ledger);
  await ledger.objects.record([
    {
      id: 'file-acme1',
      kind: 'file',
      companyId: 'acme',
      keyId: 'key_a',
      userId: null,
      requestId: 'req_f1',
      createdAt: NOW.toISOString(),
    },
    {
      id: 'ft:gpt-4o-mini:org::x1',
      kind: 'model',
      companyId: 'acme',
      keyId: null,
      userId: 'u1',
      requestId: 'req_f2',
      createdAt: NOW.toISOString(),
    },
  ]);
  await ledger.close();
  db = await createDatabase();
});
afterAll(async () => {
  if (db) await dropDatabase(db.name);
  rmSync(dir, { recursive: true, force: true });
});

describe('tollgate ledger copy', () => {
  it('copies a SQLite ledger into an empty Postgres one, verified on both and read the same by every report', async () => {
    const copy = cli('ledger', 'copy', '--from', file, '--to', db.url);
    expect(copy.stderr).toBe('');
    expect(copy.stdout).toMatch(/^copied \d+ purchases, \d+ grants, \d+ requests/);
    expect(copy.stdout).toContain(
      'ledger verify: all invariants hold on both, and the copy reads the same as its source',
    );
    expect(copy.status).toBe(0);

    const source = openLedger({ path: file, readonly: true });
    const target = openLedger({ url: db.url, readonly: true });
    try {
      const brief = (findings: { check: string; severity: string; rows: string[] }[]) =>
        findings.map((f) => [f.check, f.severity, f.rows]);
      expect(brief(await target.reader.verify())).toEqual(brief(await source.reader.verify()));
      expect(await target.balance('acme', NOW)).toEqual(await source.balance('acme', NOW));
      expect(await target.reader.recent({ companyId: 'acme' }, 5, NOW)).toEqual(
        await source.reader.recent({ companyId: 'acme' }, 5, NOW),
      );
      expect(await target.reader.usage({}, 'day')).toEqual(await source.reader.usage({}, 'day'));
      const ids = ['file-acme1', 'ft:gpt-4o-mini:org::x1', 'file-never'];
      expect([...(await target.objects.owners(ids))]).toEqual([...(await source.objects.owners(ids))]);
      expect((await target.objects.owners(ids)).get('ft:gpt-4o-mini:org::x1')).toEqual({
        kind: 'model',
        companyId: 'acme',
        keyId: null,
        userId: 'u1',
      });
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('refuses to copy into a ledger that is not empty, and writes nothing', async () => {
    const target = openLedger({ url: db.url, readonly: true });
    const before = await target.reader.rows({});
    const again = cli('ledger', 'copy', '--from', file, '--to', db.url);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('the target ledger is not empty: copy into a new database');
    expect(await target.reader.rows({})).toEqual(before);
    await target.close();
  });

  it('refuses a ledger whose old rows were archived (their usage lives only in its rollups), writing nothing', async () => {
    const archived = join(dir, 'archived.db');
    const ledger = openSqliteLedger({ path: archived, checkpointThread: false, foldIntervalMs: false });
    await seedLedger(ledger);
    await ledger.rollups.catchUp();
    await archiveLedger(ledger.archive, { before: '2026-10-25T00:00:00.000Z', to: join(dir, 'a.ndjson.gz'), now: NOW });
    await ledger.close();
    const fresh = await createDatabase();
    try {
      const copy = cli('ledger', 'copy', '--from', archived, '--to', fresh.url);
      expect(copy.status).toBe(2);
      expect(copy.stderr).toMatch(/were archived .*a copy does not carry/);
    } finally {
      await dropDatabase(fresh.name);
    }
  });
});
