import OpenAI from 'openai';
import pg from 'pg';
import { mintKey } from '../../src/auth/api-key.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TEST_PRICES, UPSTREAM_KEY } from './harness.js';
import { createDatabase, dropDatabase } from './postgres.js';

/** Several tollgate replicas in this process, on one fresh Postgres ledger, with one company `acme` and its key. */
export interface Replicas {
  servers: RunningServer[];
  /** An SDK client of replica `i` (no retries), with `fetch` when given (e.g. over a bounded connection pool). */
  client(i: number, opts?: { fetch?: typeof fetch }): OpenAI;
  /** The ledger's request rows, admission order (snake_case columns, numbers). */
  rows(): Promise<Record<string, unknown>[]>;
  /** The ledger's database URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts `count` replicas (`startServer`, 127.0.0.1, port 0) on one new Postgres database, sharing
 * the config: `company` is acme's config (allocations, limits), `clock` the instant they all read.
 */
export async function startReplicas(
  count: number,
  upstreamUrl: string,
  company: Record<string, unknown>,
  clock?: () => Date,
): Promise<Replicas> {
  const db = await createDatabase();
  const minted = mintKey();
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { baseUrl: upstreamUrl },
    ledger: { url: db.url },
    companies: {
      acme: {
        name: 'acme',
        ...company,
        keys: [{ id: 'acme-key', sha256: minted.sha256, prefix: minted.prefix, revoked: false }],
      },
    },
    prices: TEST_PRICES,
  });
  const servers: RunningServer[] = [];
  for (let i = 0; i < count; i++)
    servers.push(
      await startServer(structuredClone(config), { upstreamKey: UPSTREAM_KEY, log: createLogger('silent'), clock }),
    );
  const reader = new pg.Client({ connectionString: db.url });
  await reader.connect();
  return {
    servers,
    url: db.url,
    client: (i, opts = {}) =>
      new OpenAI({ baseURL: `${servers[i]!.url}/v1`, apiKey: minted.key, maxRetries: 0, fetch: opts.fetch }),
    rows: async () =>
      (await reader.query('SELECT * FROM requests ORDER BY created_at, seq')).rows.map((r) => ({
        ...r,
        metered_tokens: Number(r.metered_tokens),
        hold_tokens: Number(r.hold_tokens),
      })),
    async close() {
      await reader.end();
      for (const s of servers) await s.close(200);
      await dropDatabase(db.name);
    },
  };
}
