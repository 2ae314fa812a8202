/**
 * The bench's Postgres: `$TOLLGATE_BENCH_DATABASE_URL` when set (a server the operator runs; the
 * bench only creates and drops databases on it), otherwise a throwaway cluster that
 * `.ci/postgres-up` starts on 127.0.0.1 on a free port (as the `postgres` user, in a temp dir,
 * fsync off — durability is not what the bench measures) and `.ci/postgres-down` removes again.
 * Every target gets a fresh database of its own, dropped after it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { childrenOf, freePort } from './proc.js';

export interface BenchPostgres {
  /** The server's URL (its `postgres` database), for administration. */
  url: string;
  /** Where it came from, for the report. */
  source: string;
  /** Pids of the server's processes right now (postmaster and backends); empty for a server the bench did not start. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Starts (or names) the Postgres the bench uses. Takes a few seconds for a new cluster. */
export async function startPostgres(root: string): Promise<BenchPostgres> {
  const given = process.env.TOLLGATE_BENCH_DATABASE_URL;
  if (given) return { url: given, source: '$TOLLGATE_BENCH_DATABASE_URL', pids: () => [], stop: async () => {} };
  const port = String(await freePort());
  const env = { ...process.env, TOLLGATE_TEST_PG_PORT: port };
  const url = execFileSync('bash', [join(root, '.ci', 'postgres-up')], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 180_000,
  }).trim();
  const dir = readFileSync(`/tmp/tollgate-pg-${port}.dir`, 'utf8').trim();
  const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url,
    pids: () => [postmaster, ...childrenOf(postmaster)],
    source: `a throwaway cluster (.ci/postgres-up, 127.0.0.1:${port}, fsync off)`,
    stop: async () => {
      execFileSync('bash', [join(root, '.ci', 'postgres-down')], { env, stdio: 'ignore', timeout: 60_000 });
    },
  };
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new empty database on `server` for one target (`tollgate_bench_<label>_<random>`); `drop` removes it. */
export async function freshDatabase(
  server: BenchPostgres,
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tollgate_bench_${label.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  await admin(server.url, `CREATE DATABASE ${name}`);
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
