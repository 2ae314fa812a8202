import cluster from 'node:cluster';
import type { Logger } from 'pino';

/**
 * The primary process of `tollgate serve --workers N` (node:cluster): forks N workers that each run
 * the whole proxy on the shared listen port (the primary hands out connections), forwards SIGHUP
 * (reload) and SIGINT/SIGTERM (graceful stop) to them, and replaces a worker that dies unexpectedly
 * (its held rows are resolved by the surviving workers once its heartbeat lapses on Postgres; on
 * SQLite, where this process owns the file, by the worker that replaces it). Runs `beforeExit`
 * (closing the ledger it owns) and exits when every worker has stopped after a signal; exits 1
 * when a worker dies before it listened (a start-up failure is not retried forever).
 */
export function runPrimary(workers: number, log: Logger, beforeExit: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const each = (signal: NodeJS.Signals) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  const listened = new Set<number>();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping && !listened.has(worker.id)) {
      // It died before listening (the ledger unreachable, a bad key…): replacing it would loop.
      log.error({ pid: worker.process.pid, code, signal }, 'a worker could not start: stopping');
      stopping = true;
      each('SIGTERM');
      process.exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) void beforeExit().finally(() => process.exit(1));
      return;
    }
    if (stopping) {
      // process.exitCode stays 1 after a start-up failure, 0 after a signal.
      if (Object.keys(cluster.workers ?? {}).length === 0) void beforeExit().finally(() => process.exit());
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'a worker died: starting another');
    fork();
  });
  process.on('SIGHUP', () => each('SIGHUP'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      log.info({ signal, workers }, 'stopping the workers');
      each(signal);
    });
  }
}

/** True in the primary of a multi-worker `serve`: it forks and does not serve itself. */
export function isPrimary(): boolean {
  return cluster.isPrimary;
}
