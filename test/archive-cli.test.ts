import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgLedger } from '../src/ledger/postgres/index.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { waitUntil } from './support/wait.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';
import { NOW, seedLedger } from './ledger-contract/report-fixture.js';
import { createDatabase, dropDatabase } from './support/postgres.js';

/**
 * `tollgate ledger archive` on a SQLite ledger: alone (it folds what is left, then archives), and
 * beside a running `serve` that keeps answering proxied requests meanwhile; its refusals. On
 * Postgres: its waits bounded by the config's `ledger.timeouts`.
 */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

/** Runs the CLI without blocking the event loop (a server may run in this process meanwhile). */
function tollgate(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const lines = (file: string) =>
  gunzipSync(readFileSync(file))
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-archive-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tollgate ledger archive', () => {
  it('archives the rows before a date to a gzip NDJSON file, then verify holds; a second run archives nothing', async () => {
    const file = join(dir, 'alone.db');
    const writer = openSqliteLedger({ path: file, checkpointThread: false, foldIntervalMs: false });
    await seedLedger(writer);
    await writer.close();
    const to = join(dir, 'oct.ndjson.gz');
    const now = NOW.toISOString();
    const first = await tollgate([
      'ledger',
      'archive',
      '--ledger',
      file,
      '--before',
      '2026-10-25',
      '--to',
      to,
      '--now',
      now,
    ]);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^archived 4 requests and \d+ debits admitted before 2026-10-25T00:00:00\.000Z to /);
    const [header, ...rest] = lines(to);
    expect(header).toMatchObject({ format: 'tollgate-ledger-archive', version: 1, before: '2026-10-25T00:00:00.000Z' });
    expect(rest.pop()).toMatchObject({ end: true, requests: 4 });
    expect(rest.map((r) => r.id)).toEqual(['r01', 'r09', 'r02', 'r03']);
    expect((await tollgate(['ledger', 'verify', file])).status).toBe(0);
    const again = await tollgate([
      'ledger',
      'archive',
      '--ledger',
      file,
      '--before',
      '2026-10-25',
      '--to',
      join(dir, 'again.gz'),
      '--now',
      now,
    ]);
    expect(again.stdout).toMatch(/^archived 0 requests and 0 debits/);
    // Usage over the archived days still answers, from the rollups.
    const usage = await tollgate(['usage', '--ledger', file, '--until', '2026-10-25', '--json', '--now', now]);
    expect(JSON.parse(usage.stdout)).toEqual([
      expect.objectContaining({ requests: 4, totalTokens: 1500 + 750 + 3000 + 4000 }),
    ]);
  }, 120_000);

  it('refuses a date in the future and an existing file, writing nothing', async () => {
    const file = join(dir, 'alone.db');
    const future = await tollgate([
      'ledger',
      'archive',
      '--ledger',
      file,
      '--before',
      '2099-01-01',
      '--to',
      join(dir, 'x.gz'),
    ]);
    expect(future.status).toBe(2);
    expect(future.stderr).toMatch(/--before 2099-01-01 is in the future/);
    expect(existsSync(join(dir, 'x.gz'))).toBe(false);
    const exists = await tollgate([
      'ledger',
      'archive',
      '--ledger',
      file,
      '--before',
      '2026-10-25',
      '--to',
      join(dir, 'oct.ndjson.gz'),
      '--now',
      NOW.toISOString(),
    ]);
    expect(exists.status).toBe(1);
    expect(exists.stderr).toMatch(/already exists/);
  }, 60_000);
});

describe('tollgate ledger archive beside a running serve', () => {
  let upstream: ScriptedUpstream;
  let proxy: Tollgate;
  const file = () => join(dir, 'served.db');
  beforeAll(async () => {
    const writer = openSqliteLedger({ path: file(), checkpointThread: false, foldIntervalMs: false });
    await seedLedger(writer);
    await writer.close();
    upstream = await new ScriptedUpstream().start();
    upstream.script = (_req, res) =>
      json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        model: 'gpt-4o-mini',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
      });
    proxy = await startTollgate({ upstreamUrl: upstream.url, ledgerPath: file() });
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it('archives on its own connection while the server keeps answering', async () => {
    // The server folds the seeded rows first (rows it has not folded yet would be left for a later run).
    await waitUntil(async () => (await proxy.server.runtime.ledger.rollups.status()).waiting === 0, {
      what: 'the seeded rows folded',
    });
    const to = join(dir, 'beside.ndjson.gz');
    const archiving = tollgate(['ledger', 'archive', '--ledger', file(), '--before', '2026-10-25', '--to', to]);
    const client = proxy.client();
    const answers: string[] = [];
    let done = false;
    void archiving.then(() => (done = true));
    while (!done || answers.length < 3) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      answers.push(r.choices[0]!.message.content!);
    }
    const result = await archiving;
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/a tollgate server writes .*: archiving beside it/);
    expect(result.stdout).toMatch(/^archived 4 requests/);
    expect(answers.every((a) => a === 'hi')).toBe(true);
    await proxy.settled();
    expect(proxy.query("SELECT count(*) AS n FROM requests WHERE created_at < '2026-10-25'")).toEqual([{ n: 0 }]);
  }, 120_000);
});

describe('tollgate ledger archive on Postgres', () => {
  it("bounds its waits by the config's ledger.timeouts, not the defaults", async () => {
    const db = await createDatabase();
    const holder = new pg.Client({ connectionString: db.url });
    // Watches from outside the holder's transaction (which sees one snapshot of pg_stat_activity).
    const watcher = new pg.Client({ connectionString: db.url });
    try {
      const writer = openPgLedger({ url: db.url, foldIntervalMs: false });
      await seedLedger(writer);
      await writer.rollups.catchUp();
      await writer.close();
      const config = join(dir, 'postgres.json');
      writeFileSync(
        config,
        JSON.stringify({
          ledger: { url: db.url, timeouts: { statementMs: 500 } },
          companies: { acme: { name: 'Acme', allocations: [{ id: 'acme-g', tokens: 1 }] } },
        }),
      );
      // Another session holds a row the run must delete: its delete waits on the row lock.
      await holder.connect();
      await watcher.connect();
      await holder.query('BEGIN');
      await holder.query("SELECT id FROM requests WHERE id = 'r01' FOR UPDATE");
      let exited = false;
      const archiving = tollgate([
        'ledger',
        'archive',
        '--config',
        config,
        '--before',
        '2026-10-25',
        '--to',
        join(dir, 'postgres.ndjson.gz'),
        '--now',
        NOW.toISOString(),
      ]).finally(() => (exited = true));
      // With the config's 500 ms the blocked delete is cancelled well before Postgres has seen it wait
      // 3 s; with the defaults (10 s) it would still be waiting then, and is let through instead.
      const waited = async () =>
        (
          await watcher.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
               AND wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '3 seconds'`,
          )
        ).rows[0]!.n > 0;
      await waitUntil(async () => exited || (await waited()), {
        timeoutMs: 60_000,
        what: 'the run ended or waited 3 s',
      });
      await holder.query('ROLLBACK');
      const result = await archiving;
      expect(result.stderr).toMatch(/archive failed: .*statement timeout/);
      expect(result.status).toBe(1);
    } finally {
      await holder.end().catch(() => {});
      await watcher.end().catch(() => {});
      await dropDatabase(db.name);
    }
  }, 120_000);
});
