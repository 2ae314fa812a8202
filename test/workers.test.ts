import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES, UPSTREAM_KEY } from './support/harness.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import { waitUntil } from './support/wait.js';

/**
 * `tollgate serve --workers N`: N processes share the listen port on a Postgres ledger (SQLite:
 * sqlite-workers.test.ts).
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const CLI = join(import.meta.dirname, '../src/cli.ts');
const env = { ...process.env, OPENAI_API_KEY: UPSTREAM_KEY, LOG_LEVEL: 'info', TOLLGATE_DATABASE_URL: '' };

let upstream: FakeUpstream;
let dir: string;
let key: string;
const config = (ledger: object) => {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  const minted = mintKey();
  key = minted.key;
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: upstream.url },
      ledger,
      companies: {
        acme: {
          name: 'acme',
          allocations: [{ id: 'big', tokens: 10_000_000 }],
          keys: [{ id: 'acme-key', sha256: minted.sha256, prefix: minted.prefix }],
        },
      },
      prices: TEST_PRICES,
    }),
  );
  return file;
};

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-workers-'));
});
afterAll(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tollgate serve --workers', () => {
  it('runs two workers on one port over a Postgres ledger; both serve and write their own rows', {
    timeout: 120_000,
  }, async () => {
    const db = await createDatabase();
    // Port 0: in a cluster, every worker gets the same "random" port (node:cluster).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'serve', '-c', config({ url: db.url }), '--workers', '2', '--no-watch'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const reader = new pg.Client({ connectionString: db.url });
    try {
      const deadline = Date.now() + 60_000;
      while ((out.match(/tollgate listening/g) ?? []).length < 2) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`the workers did not both listen: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const urls = new Set([...out.matchAll(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/g)].map((m) => m[1]));
      expect(urls.size).toBe(1);
      const client = new OpenAI({ baseURL: `${[...urls][0]}/v1`, apiKey: key, maxRetries: 0 });
      // Separate connections (the SDK's keep-alive would pin one worker): the primary spreads them.
      const results = await Promise.all(
        Array.from({ length: 40 }, () =>
          client.chat.completions.create(chat.request.body as never, {
            headers: { 'x-test-recording': chat.name, connection: 'close' },
          }),
        ),
      );
      expect(results).toHaveLength(40);
      await reader.connect();
      // A row settles just after its response's last byte: wait for the last ones.
      await waitUntil(
        async () =>
          (await reader.query("SELECT count(*)::int AS n FROM requests WHERE status = 'held'")).rows[0].n === 0,
        { timeoutMs: 10_000, what: 'every row to settle' },
      );
      const rows = (
        await reader.query(
          "SELECT instance_id, count(*)::int AS n FROM requests WHERE status = 'settled' GROUP BY instance_id",
        )
      ).rows;
      expect(rows.reduce((s, r) => s + r.n, 0)).toBe(40);
      expect(rows).toHaveLength(2);
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect((await reader.query('SELECT count(*)::int AS n FROM instances WHERE stopped_at IS NULL')).rows[0].n).toBe(
        0,
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await reader.end().catch(() => {});
      await dropDatabase(db.name);
    }
  });
});
