import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the checkpointer folds the WAL back into the database file (ms). */
const INTERVAL_MS = 250;
/** Pages of WAL after which the serving connection checkpoints itself anyway (~40 MB): a safety net if the worker stops. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); checkpoint(); db.close(); parentPort.postMessage('stopped'); });
`;

/**
 * WAL checkpoints on a worker thread. A checkpoint copies the WAL into the database file and, with
 * `synchronous = NORMAL`, fsyncs it: done by SQLite's auto-checkpoint inside a commit, it stalled
 * the event loop for tens of milliseconds every few thousand requests (bench/: p99 +60–130 ms at
 * 1,000 RPS). The serving connection leaves them (but for a far-off safety net) to this thread's
 * own connection, which runs `wal_checkpoint(PASSIVE)` every 250 ms without blocking writers.
 */
export class Checkpointer {
  private readonly worker: Worker;

  constructor(path: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs: INTERVAL_MS } });
    this.worker.unref();
  }

  /** Runs a last checkpoint and stops the thread. */
  async stop(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('stop');
    await stopped;
    await this.worker.terminate();
  }
}
