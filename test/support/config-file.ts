import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import { mintKey } from '../../src/auth/api-key.js';
import { loadConfig } from '../../src/config/load.js';
import type { ReloadResult } from '../../src/config/reload.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TEST_PRICES, UPSTREAM_KEY, type Row } from './harness.js';
import { waitUntil } from './wait.js';

/**
 * tollgate started from a config *file* in a temp dir (for reload, the read API and metrics), with
 * its log lines captured. Keys are minted once per id and reused across rewrites of the file, so a
 * test can add, revoke and remove keys by editing the config object and writing it again.
 */

/** A key as written to the config: the test keeps its plaintext in `keys`. */
export interface KeySpec {
  id: string;
  role?: 'member' | 'admin';
  revoked?: boolean;
  expiresAt?: string;
}

/** A JSON config, as the tests edit it. */
export type ConfigJson = Record<string, any>;

export interface FileTollgate {
  url: string;
  server: RunningServer;
  dir: string;
  file: string;
  /** Plaintext of every key minted so far, by key id (company keys and operator keys). */
  keys: Record<string, string>;
  /** Log lines written so far, parsed. */
  logs: Record<string, any>[];
  /** A config entry for a company key (minted on first use of the id). */
  key(spec: KeySpec): Record<string, unknown>;
  /** A config entry for an operator key (minted on first use of the id). */
  operator(id: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Writes the config file in place (truncate and write, as most editors do). */
  write(config: ConfigJson | string): void;
  /** Writes a temp file and renames it over the config (as vim and atomic savers do). */
  replace(config: ConfigJson | string): void;
  /** The next reload that is not `unchanged` (the watcher saw no change). */
  nextReload(): Promise<ReloadResult>;
  rows(): Row[];
  /** Resolves once no ledger row is `held` (rows settle just after their response's last byte); fails after 5 s. */
  settled(): Promise<void>;
  query(sql: string, ...params: unknown[]): Row[];
  close(): Promise<void>;
}

export interface FileTollgateOptions {
  /** Builds the config; gets `key` and `operator` to mint entries. `ledger.path`, `listen` and `upstream.baseUrl` are filled in unless given. */
  config: (mint: { key: FileTollgate['key']; operator: FileTollgate['operator'] }) => ConfigJson;
  upstreamUrl: string;
  watch?: boolean;
  clock?: () => Date;
}

export const JSON_TEXT = (config: ConfigJson) => `${JSON.stringify(config, null, 2)}\n`;

/** Mints keys by id, once. */
export function keyMint(keys: Record<string, string>) {
  const minted = new Map<string, ReturnType<typeof mintKey>>();
  const get = (id: string) => {
    let m = minted.get(id);
    if (!m) {
      m = mintKey();
      minted.set(id, m);
      keys[id] = m.key;
    }
    return m;
  };
  return {
    key: (spec: KeySpec) => {
      const m = get(spec.id);
      return {
        id: spec.id,
        sha256: m.sha256,
        prefix: m.prefix,
        ...(spec.role ? { role: spec.role } : {}),
        ...(spec.revoked ? { revoked: true } : {}),
        ...(spec.expiresAt ? { expiresAt: spec.expiresAt } : {}),
      };
    },
    operator: (id: string, extra: Record<string, unknown> = {}) => {
      const m = get(id);
      return { id, sha256: m.sha256, prefix: m.prefix, ...extra };
    },
  };
}

export async function startFromFile(opts: FileTollgateOptions): Promise<FileTollgate> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-file-'));
  const file = join(dir, 'proxy.config.json');
  const keys: Record<string, string> = {};
  const mint = keyMint(keys);
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, any>);
      done();
    },
  });
  const log = pino({ level: 'info', base: { service: 'tollgate' } }, sink);
  const fill = (c: ConfigJson): ConfigJson => ({
    listen: { host: '127.0.0.1', port: 0 },
    ledger: { path: join(dir, 'ledger.db') },
    prices: TEST_PRICES,
    ...c,
    upstream: { baseUrl: opts.upstreamUrl, ...(c.upstream ?? {}) },
  });
  const text = (c: ConfigJson | string) => (typeof c === 'string' ? c : JSON_TEXT(fill(c)));
  writeFileSync(file, text(opts.config(mint)));
  const server = await startServer(loadConfig(file), {
    upstreamKey: UPSTREAM_KEY,
    log,
    clock: opts.clock,
    configFile: file,
    watchConfig: opts.watch ?? true,
    processMetrics: false,
  });
  const reader = new Database(join(dir, 'ledger.db'), { readonly: true });
  let tmp = 0;
  return {
    url: server.url,
    server,
    dir,
    file,
    keys,
    logs,
    key: mint.key,
    operator: mint.operator,
    write: (c) => writeFileSync(file, text(c)),
    replace: (c) => {
      const t = join(dir, `.proxy.config.json.${++tmp}.tmp`);
      writeFileSync(t, text(c));
      renameSync(t, file);
    },
    nextReload: () =>
      new Promise((resolve) => {
        const on = (r: ReloadResult) => {
          if (r.status === 'unchanged') return;
          server.reloader!.off('reload', on);
          resolve(r);
        };
        server.reloader!.on('reload', on);
      }),
    rows: () => reader.prepare('SELECT * FROM requests ORDER BY created_at, rowid').all() as Row[],
    async settled() {
      const held = reader.prepare("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'");
      await waitUntil(() => (held.get() as { n: number }).n === 0, { what: 'every ledger row settled' });
    },
    query: (sql, ...params) => reader.prepare(sql).all(...params) as Row[],
    async close() {
      reader.close();
      await server.close(200);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
