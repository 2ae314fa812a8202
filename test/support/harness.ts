import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { mintKey } from '../../src/auth/api-key.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { waitUntil } from './wait.js';

export const UPSTREAM_KEY = 'sk-upstream-test-key';
const SOURCE = 'https://platform.openai.com/docs/pricing';

/** Prices for every model the recordings use (USD per 1M tokens). */
export const TEST_PRICES = {
  'gpt-3.5-turbo': { input: 0.5, output: 1.5, source: SOURCE, date: '2025-08-07' },
  'gpt-3.5-turbo-instruct': { input: 1.5, output: 2, source: SOURCE, date: '2025-08-07' },
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10, source: SOURCE, date: '2025-08-07' },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6, source: SOURCE, date: '2025-08-07' },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8, source: SOURCE, date: '2025-08-07' },
  'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2, source: SOURCE, date: '2025-08-07' },
  'text-embedding-3-small': { input: 0.02, source: SOURCE, date: '2025-08-07' },
  'text-embedding-ada-002': { input: 0.1, source: SOURCE, date: '2025-08-07' },
  nonexistent: { input: 1, output: 1, source: 'test', date: '2025-08-07' },
};

/** A ledger row as stored (snake_case columns). */
export type Row = Record<string, string | number | null>;

export interface Tollgate {
  url: string;
  server: RunningServer;
  /** Plaintext keys by key id. */
  keys: Record<string, string>;
  /** An SDK client with the given key (default: the first company's first key), no retries unless asked. */
  client(key?: string, opts?: { maxRetries?: number; fetch?: typeof fetch }): OpenAI;
  /** All request rows, oldest first. */
  rows(): Row[];
  /**
   * Waits until no row is `held` (an upload's row settles once its form has been read) but those
   * deferred on upstream work (the settler's); fails after 5 s.
   */
  settled(): Promise<void>;
  /** Runs a read query on the ledger file through a separate connection. */
  query(sql: string, ...params: unknown[]): Row[];
  close(): Promise<void>;
}

export interface TollgateOptions {
  upstreamUrl: string;
  /**
   * Company id → allocations and any other company fields (jwt, limits, users, timeZone); keys are
   * minted for each entry of `keys` (default one key, `<company>-key`).
   */
  companies?: Record<
    string,
    {
      allocations: unknown[];
      keys?: { id: string; expiresAt?: string; revoked?: boolean; role?: string; limits?: unknown }[];
      [field: string]: unknown;
    }
  >;
  admission?: Record<string, unknown>;
  unknownPaths?: 'reject' | 'passthrough';
  /** Object ownership settings (`objects.unrecordedVisibleTo`: key ids that see objects tollgate never saw created). */
  objects?: { unrecordedVisibleTo: string[] };
  alerts?: Record<string, unknown>;
  clock?: () => Date;
  webhook?: { retryBaseMs?: number; maxAttempts?: number; timeoutMs?: number };
  /** Prices added to (or overriding) `TEST_PRICES`. */
  prices?: Record<string, unknown>;
  /** The config's `realtime` section. */
  realtime?: Record<string, unknown>;
  /** The config's `settlement` section (the settler's poll schedule). */
  settlement?: Record<string, unknown>;
  /** An existing ledger file to open (kept at `close`), e.g. to start tollgate again on it; default a fresh one. */
  ledgerPath?: string;
  /** More of the config's `ledger` section (`reports`, `retention`). */
  ledger?: Record<string, unknown>;
  /** The config's `ledger.timeouts` (ms). */
  ledgerTimeouts?: Record<string, number>;
}

/** Starts tollgate on 127.0.0.1 with a fresh SQLite file in a temp dir, configured by `opts`. */
export async function startTollgate(opts: TollgateOptions): Promise<Tollgate> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  const keys: Record<string, string> = {};
  const companies: Record<string, unknown> = {};
  for (const [id, c] of Object.entries(
    opts.companies ?? { acme: { allocations: [{ id: 'acme-grant', tokens: 10_000_000 }] } },
  )) {
    const { keys: keySpecs, ...rest } = c;
    const keyEntries = (keySpecs ?? [{ id: `${id}-key` }]).map((k) => {
      const minted = mintKey();
      keys[k.id] = minted.key;
      return { ...k, sha256: minted.sha256, prefix: minted.prefix, revoked: k.revoked ?? false };
    });
    companies[id] = { name: id, ...rest, keys: keyEntries };
  }
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { baseUrl: opts.upstreamUrl },
    ledger: { path: opts.ledgerPath ?? join(dir, 'ledger.db'), timeouts: opts.ledgerTimeouts, ...opts.ledger },
    admission: opts.admission,
    unknownPaths: opts.unknownPaths,
    objects: opts.objects,
    alerts: opts.alerts,
    companies,
    prices: { ...TEST_PRICES, ...opts.prices },
    realtime: opts.realtime,
    settlement: opts.settlement,
  });
  const server = await startServer(config, {
    upstreamKey: UPSTREAM_KEY,
    log: createLogger('silent'),
    clock: opts.clock,
    webhook: opts.webhook,
  });
  const reader = new Database(config.ledger.path, { readonly: true });
  const firstKey = Object.values(keys)[0]!;
  return {
    url: server.url,
    server,
    keys,
    client: (key = firstKey, o = {}) =>
      new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: o.maxRetries ?? 0, fetch: o.fetch }),
    rows: () => reader.prepare('SELECT * FROM requests ORDER BY created_at, rowid').all() as Row[],
    async settled() {
      const held = reader.prepare(
        "SELECT COUNT(*) AS n FROM requests WHERE status = 'held' AND id NOT IN (SELECT request_id FROM deferred_objects)",
      );
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
