import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { mintKey, type MintedKey } from '../../src/auth/api-key.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

/** A config file for a child tollgate (see `childConfig`) and what a test needs of it. */
export interface ChildConfig {
  url: string;
  configFile: string;
  ledger: string;
  /** The company's one key (id `k`). */
  key: MintedKey;
  /** Runs a read query on the ledger file through its own connection. */
  rows(sql: string): Record<string, unknown>[];
}

/**
 * Writes `<dir>/<name>.json`: tollgate on a free port of 127.0.0.1, `upstreamUrl` as its upstream,
 * a fresh SQLite ledger `<dir>/<name>.db`, and one company `acme` with one key and the fields of
 * `acme` (its allocations, fallback prices…); `extra` adds top-level fields (`prices`…).
 */
export async function childConfig(
  dir: string,
  name: string,
  upstream: Record<string, unknown>,
  acme: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ChildConfig> {
  const port = await freePort();
  const key = mintKey();
  const ledger = join(dir, `${name}.db`);
  const configFile = join(dir, `${name}.json`);
  const company = { name: 'acme', keys: [{ id: 'k', sha256: key.sha256, prefix: key.prefix }], ...acme };
  writeFileSync(
    configFile,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      upstream,
      ledger: { path: ledger },
      companies: { acme: company },
      ...extra,
    }),
  );
  const rows = (sql: string) => {
    const db = new Database(ledger, { readonly: true });
    try {
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  };
  return { url: `http://127.0.0.1:${port}`, configFile, ledger, key, rows };
}

/**
 * Starts `tollgate serve --config <configFile>` as a child process (logs silenced, upstream key
 * `sk-upstream-child`) and resolves once `<url>/healthz` answers; fails when it exits or is not
 * ready within 20 s.
 */
export async function serveChild(configFile: string, url: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '../../src/cli.ts'), 'serve', '--config', configFile],
    { env: { ...process.env, OPENAI_API_KEY: 'sk-upstream-child', LOG_LEVEL: 'silent' }, stdio: 'ignore' },
  );
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`tollgate exited with ${child.exitCode}`);
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'tollgate to answer /healthz' },
  );
  return child;
}

/** Resolves once `child` has exited (at once if it already has). */
export const exited = (child: ChildProcess) =>
  new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
  );

/** SIGKILLs `child` and resolves once it is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}
