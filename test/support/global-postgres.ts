import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * vitest global setup: the Postgres the suite's Postgres tests need. With
 * `$TOLLGATE_TEST_DATABASE_URL` set (CI exports one) it is used as it is; otherwise `.ci/postgres-up`
 * starts a throwaway cluster on 127.0.0.1 (installing Debian's postgresql when missing, which needs
 * root) and the teardown stops it again — so `npm test` alone runs the whole suite on a fresh machine.
 */
const PORT = process.env.TOLLGATE_TEST_PG_PORT ?? '55432';
const DIR_FILE = `/tmp/tollgate-pg-${PORT}.dir`;
let startedHere = false;

const dirOf = () => (existsSync(DIR_FILE) ? readFileSync(DIR_FILE, 'utf8') : undefined);

export function setup(): void {
  if (process.env.TOLLGATE_TEST_DATABASE_URL) return;
  const before = dirOf();
  process.env.TOLLGATE_TEST_DATABASE_URL = execFileSync('bash', ['.ci/postgres-up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  startedHere = dirOf() !== before;
}

export function teardown(): void {
  if (startedHere) execFileSync('bash', ['.ci/postgres-down'], { stdio: 'inherit' });
}
