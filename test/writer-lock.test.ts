import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { LedgerBusyError } from '../src/ledger/sqlite/writer-lock.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { waitUntil } from './support/wait.js';
import { freePort } from './support/ports.js';

/**
 * One writing process per SQLite ledger: a second `tollgate serve` on the same file refuses to
 * start, naming the holder's pid, and leaves the first one's live rows alone; the lock dies with
 * its process (kill -9 included), so a restart after a crash is never blocked.
 */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function config(port: number): string {
  const file = join(dir, `proxy.${port}.json`);
  const key = mintKey();
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      upstream: { baseUrl: 'http://127.0.0.1:9' },
      ledger: { path: join(dir, 'ledger.db') },
      companies: {
        acme: {
          name: 'acme',
          keys: [{ id: 'k', sha256: key.sha256, prefix: key.prefix }],
          allocations: [{ id: 'g', tokens: 1000 }],
        },
      },
    }),
  );
  return file;
}

const env = { ...process.env, OPENAI_API_KEY: 'sk-upstream-lock', LOG_LEVEL: 'silent' };
const healthy = async (port: number) =>
  (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true;

describe('one writer per SQLite ledger', () => {
  it('refuses a second serve on the same file with the holder pid, and frees the file when the holder dies', async () => {
    const first = await freePort();
    const holder = spawn(process.execPath, [...CLI, 'serve', '--config', config(first), '--no-watch'], {
      env,
      stdio: 'ignore',
    });
    children.push(holder);
    await waitUntil(() => healthy(first), { timeoutMs: 30_000, what: 'the first tollgate to listen' });

    const second = await freePort();
    const refused = spawnSync(process.execPath, [...CLI, 'serve', '--config', config(second), '--no-watch'], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      `tollgate could not start: another tollgate (pid ${holder.pid}) is already serving the ledger ${join(dir, 'ledger.db')}`,
    );
    expect(await healthy(first)).toBe(true);

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const next = spawn(process.execPath, [...CLI, 'serve', '--config', config(second), '--no-watch'], {
      env,
      stdio: 'ignore',
    });
    children.push(next);
    await waitUntil(() => healthy(second), { timeoutMs: 30_000, what: 'the restarted tollgate to listen' });
  }, 90_000);

  it('refuses a second writer in the same process too, and readers are never refused', async () => {
    const path = join(dir, 'inproc.db');
    const a = openSqliteLedger({ path, checkpointThread: false });
    expect(() => openSqliteLedger({ path, checkpointThread: false })).toThrow(LedgerBusyError);
    const reader = openSqliteLedger({ path, readonly: true });
    await expect(reader.reader.openHolds()).resolves.toBe(0);
    await reader.close();
    await a.close();
    await openSqliteLedger({ path, checkpointThread: false }).close();
  });
});
