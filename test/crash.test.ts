import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { waitUntil } from './support/wait.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES } from './support/harness.js';
import { freePort } from './support/ports.js';

/**
 * Crash safety: tollgate runs as a child process under load and is SIGKILLed at random moments,
 * then restarted, over several rounds. Every request the upstream received must have exactly one
 * row, no hold may stay open after the restart, and every invariant must hold.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const ROUNDS = 5;
const WORKERS = 12;

let upstream: FakeUpstream;
let dir: string;

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 4;
  dir = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(configFile: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts'), 'serve', '--config', configFile],
    {
      env: { ...process.env, OPENAI_API_KEY: 'sk-upstream-crash', LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    },
  );
}

async function ready(url: string, child: ChildProcess): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`tollgate exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('tollgate did not become ready');
}

const exited = (child: ChildProcess) =>
  new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
  );

describe('kill -9 under load', () => {
  it(`every forwarded request keeps exactly one row across ${ROUNDS} SIGKILLs`, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const key = mintKey();
    const configFile = join(dir, 'proxy.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port },
        upstream: { baseUrl: upstream.url },
        ledger: { path: join(dir, 'ledger.db') },
        companies: {
          acme: {
            name: 'acme',
            keys: [{ id: 'k', sha256: key.sha256, prefix: key.prefix }],
            allocations: [{ id: 'g', tokens: 100_000_000 }],
          },
        },
        prices: TEST_PRICES,
      }),
    );
    const bodies = ['chat-nonstream-01', 'chat-stream-usage-02', 'responses-stream-03', 'embeddings-01'].map(
      (name) => ({
        name,
        body: JSON.stringify(recordings.get(name)!.request.body),
        path: recordings.get(name)!.request.path,
      }),
    );
    let sent = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const before = upstream.received.length;
      const child = start(configFile);
      await ready(url, child);
      let running = true;
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        for (let i = w; running; i++) {
          const b = bodies[i % bodies.length]!;
          sent++;
          try {
            const res = await fetch(`${url}${b.path}`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${key.key}`,
                'content-type': 'application/json',
                'x-test-recording': b.name,
              },
              body: b.body,
            });
            await res.text();
          } catch {
            // the proxy died under us: expected
          }
        }
      });
      // Kill once this round has forwarded a share of the load (however slow the machine), at a
      // random moment after that.
      await waitUntil(() => upstream.received.length >= before + 2 * WORKERS, {
        timeoutMs: 60_000,
        what: `round ${round} to forward ${2 * WORKERS} requests`,
      });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      child.kill('SIGKILL');
      await exited(child);
      running = false;
      await Promise.all(workers);
    }

    // A last start resolves what the crashes left open; then a clean stop.
    const child = start(configFile);
    await ready(url, child);
    child.kill('SIGTERM');
    await exited(child);
    expect(child.exitCode).toBe(0);

    const db = new Database(join(dir, 'ledger.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT id, status FROM requests').all() as { id: string; status: string }[];
      const byId = new Map(rows.map((r) => [r.id, r]));
      const forwarded = upstream.received.map((r) => String(r.headers['x-client-request-id']));
      expect(forwarded.length).toBeGreaterThan(ROUNDS * WORKERS);
      expect(new Set(forwarded).size).toBe(forwarded.length);
      for (const id of forwarded) expect(byId.has(id), `row for ${id}`).toBe(true);
      expect(rows.filter((r) => r.status === 'held')).toEqual([]);
      expect(rows.filter((r) => r.status === 'interrupted').length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(sent);
      const ledger = openSqliteLedger({ path: join(dir, 'ledger.db'), readonly: true });
      expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
      await ledger.close();
    } finally {
      db.close();
    }
  }, 120_000);
});
