import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLedgerDb } from '../src/ledger/sqlite/db.js';

/** `tollgate prices list` and `tollgate prices check`, run as child processes on a real ledger file. */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];
const NOW = '2026-11-30T12:00:00Z';

function tollgate(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
}

let dir: string;
let configFile: string;
let ledgerFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-prices-'));
  ledgerFile = join(dir, 'ledger.db');
  const sample = JSON.parse(readFileSync(join(import.meta.dirname, '../proxy.config.json'), 'utf8')) as Record<
    string,
    any
  >;
  sample.ledger.path = ledgerFile;
  configFile = join(dir, 'proxy.config.json');
  writeFileSync(configFile, JSON.stringify(sample));
  // Settled rows as the proxy writes them: three models in the last 30 days, one older.
  const { sqlite } = openLedgerDb(ledgerFile);
  const insert =
    sqlite.prepare(`INSERT INTO requests (id, created_at, company_id, endpoint, requested_model, stream, status, hold_tokens)
                                 VALUES (?, ?, 'demo', '/v1/chat/completions', ?, 0, 'settled', 0)`);
  insert.run('req_1', '2026-11-20T10:00:00.000Z', 'gpt-4o');
  insert.run('req_2', '2026-11-21T10:00:00.000Z', 'gpt-4o');
  insert.run('req_3', '2026-11-25T10:00:00.000Z', 'gpt-5.1');
  insert.run('req_4', '2026-11-26T10:00:00.000Z', 'ft:gpt-4o-mini-2024-07-18:acme::abc');
  insert.run('req_5', '2026-09-01T10:00:00.000Z', 'model-from-long-ago');
  sqlite.close();
});

describe('tollgate prices', () => {
  it('lists every price in force with its date and source', () => {
    const table = tollgate(['prices', 'list', '-c', configFile]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/gpt-5\.1\s+1\.25\s+0\.125\s+10\s+2\.5\/0\.25\/20/);
    const json = JSON.parse(tollgate(['prices', 'list', '-c', configFile, '--json']).stdout) as {
      model: string;
      price: { source: string; date: string };
    }[];
    const entry = json.find((r) => r.model === 'gpt-realtime-2')!;
    expect(entry.price).toMatchObject({
      source: 'https://developers.openai.com/api/docs/models/gpt-realtime-2',
      date: '2026-11-30',
    });
  });

  it('names the recent models with no price or a stale one, and exits 1', () => {
    const run = tollgate(['prices', 'check', '-c', configFile, '--now', NOW, '--json']);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as {
      models: number;
      findings: { model: string; problem: string; requests: number; ageDays?: number }[];
    };
    expect(report.models).toBe(3);
    expect(report.findings).toEqual(
      [
        {
          model: 'gpt-4o',
          requests: 2,
          problem: 'stale',
          version: 'gpt-4o@2025-08-07',
          readOn: '2025-08-07',
          ageDays: 480,
        },
        { model: 'ft:gpt-4o-mini-2024-07-18:acme::abc', requests: 1, problem: 'unpriced' },
      ].sort((a, b) => a.problem.localeCompare(b.problem)),
    );
  });

  it('refuses a bad option with exit 2', () => {
    const run = tollgate(['prices', 'check', '-c', configFile, '--days', 'soon']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--days expects a positive whole number of days');
  });
});
