import cluster from 'node:cluster';
import type { Logger } from 'pino';

/**
 * The primary process of `tollgate serve --workers N` (node:cluster): forks N workers that each run
 * the whole proxy on the shared listen port (the primary hands out connections), forwards SIGHUP
 * (reload) and SIGINT/SIGTERM (graceful stop) to them, and replaces a worker that dies unexpectedly
 * (its held rows are resolved by the surviving workers once its heartbeat lapses). Exits when
 * every worker has stopped after a signal.
 */
export function runPrimary(workers: number, log: Logger): void {
  let stopping = false;
  const fork = () => cluster.fork({ TOLLGATE_WORKER: '1' });
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'a worker died: starting another');
    fork();
  });
  const each = (signal: NodeJS.Signals) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
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
