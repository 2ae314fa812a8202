import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A Postgres cluster of a test's own, on a free port of 127.0.0.1 — for tests that stop, restart or
 * cut off Postgres, which must never touch the suite's shared cluster. Like `.ci/postgres-up`, it
 * runs as the `postgres` user (Postgres refuses root) with its data in a temporary folder, fsync
 * off; `close` stops it (immediate) and removes the folder.
 */
export interface OwnPostgres {
  /** The server's URL (its `postgres` database). */
  url: string;
  port: number;
  /** Stops the server: `fast` (clients told, sessions ended) or `immediate` (processes killed, crash recovery at next start). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same data and port; resolves once it accepts connections. */
  start(): Promise<void>;
  close(): void;
}

const bin = () => {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return join('/usr/lib/postgresql', versions.at(-1)!, 'bin');
};

/** Runs a shell command as the `postgres` user (synchronously: set-up and clean-up only). */
const asPostgres = (command: string) =>
  execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', command], { stdio: 'pipe', timeout: 60_000 });
/** The same without blocking the event loop (the tollgates under test keep running meanwhile). */
const asPostgresAsync = async (command: string) => {
  await promisify(execFile)('su', ['postgres', '-s', '/bin/sh', '-c', command], { timeout: 60_000 });
};

/** Creates and starts a cluster (a few seconds). */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-own-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
  const pg = bin();
  const data = join(dir, 'data');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  asPostgres(`'${pg}/initdb' -D '${data}' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >'${dir}/initdb.log' 2>&1`);
  const startCommand = `'${pg}/pg_ctl' -D '${data}' -l '${dir}/server.log' -w -o "${options}" start`;
  asPostgres(startCommand);
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop(mode) {
      await asPostgresAsync(`'${pg}/pg_ctl' -D '${data}' -m ${mode} -w stop`);
      running = false;
    },
    async start() {
      await asPostgresAsync(startCommand);
      running = true;
    },
    close() {
      if (running) {
        try {
          asPostgres(`'${pg}/pg_ctl' -D '${data}' -m immediate -w stop`);
        } catch {
          // Already stopped.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
