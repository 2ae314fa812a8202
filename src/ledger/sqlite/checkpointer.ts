import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the checkpointer copies the WAL into the database file (ms). */
const INTERVAL_MS = 100;
/** WAL pages (4 KiB each) past which the checkpointer restarts the WAL (~32 MiB): bounds the WAL file. */
export const RESET_PAGES = 8_192;
/** Longest the queue stays held for a WAL reset if the thread does not say it is done (ms). */
const HOLD_LIMIT_MS = 1_000;
/**
 * Pages of WAL after which the serving connection checkpoints itself (~40 MB). Used only when there
 * is no checkpointer thread (`checkpointThread: false`) or after the thread died: a checkpoint then
 * runs inside a commit on the main thread, which the thread exists to avoid.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

/**
 * The thread: every INTERVAL_MS a PASSIVE checkpoint (copies what the WAL holds into the database
 * file and fsyncs it, without taking the write lock, so commits go on). PASSIVE alone never lets
 * the WAL start over under steady writes (frames keep arriving while it runs), so once the WAL is
 * past RESET_PAGES it catches up with a second PASSIVE, asks the main thread to hold its commits
 * ('hold'), and on 'held' runs RESTART: only the frames written since the catch-up are left to
 * copy, so it holds the write lock for about 2 ms, and the next commit writes the WAL from its
 * start again. Then 'release'. RESTART, not TRUNCATE: the file keeps its size (its high-water mark,
 * about RESET_PAGES pages) and is overwritten in place. Truncating a 32 MiB WAL took 20–35 ms
 * (the file system freeing its blocks), and the commits queued behind the hold for all of it: that
 * was tollgate's p99 at 1,000 RPS (bench/profile/tail.ts: p99 34–50 ms with TRUNCATE, 8 ms without
 * resets; RESTART measured at 2.1 ms against TRUNCATE's 64 ms on a 126 MB WAL).
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 200');
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0]; } catch { return undefined; } };
let resetting = false;
const tick = () => {
  if (resetting) return;
  const r = checkpoint('PASSIVE');
  if (!r || r.log < workerData.resetPages) return;
  checkpoint('PASSIVE');
  resetting = true;
  parentPort.postMessage('hold');
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'held') {
    checkpoint('RESTART');
    resetting = false;
    parentPort.postMessage('release');
    return;
  }
  clearInterval(timer);
  checkpoint('PASSIVE');
  db.close();
  parentPort.postMessage('stopped');
});
`;

/** What the checkpointer holds while it resets the WAL: the ledger's group-commit queue. */
export interface CommitGate {
  hold(): void;
  release(): void;
}

/**
 * WAL checkpoints on a worker thread, so that none runs inside a commit on the event loop. A
 * checkpoint copies the WAL into the database file and, with `synchronous = NORMAL`, fsyncs it:
 * run by SQLite's auto-checkpoint inside a commit it stalled the event loop for 5–50 ms (up to
 * 565 ms on a slow disk) 1.7–1.9 times a second at 1,000 RPS. While the thread runs, the serving
 * connection's auto-checkpoint is off; the thread keeps the WAL file at about 32 MiB (see WORKER above).
 * Should the thread die, the serving connection's auto-checkpoint comes back as a safety net.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private gate: CommitGate | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** WAL restarts done so far (each one held the commit queue for one RESTART checkpoint). */
  resets = 0;

  /** @param resetPages WAL pages past which the WAL is reset (default RESET_PAGES; tests use fewer). */
  constructor(path: string, resetPages = RESET_PAGES) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs: INTERVAL_MS, resetPages } });
    this.worker.unref();
  }

  /**
   * Takes over checkpoints from `sqlite` (the serving connection: auto-checkpoint off) and lets the
   * thread hold `gate` while it resets the WAL. Until the thread stops or dies.
   */
  attach(sqlite: Database.Database, gate: CommitGate): void {
    this.gate = gate;
    sqlite.pragma('wal_autocheckpoint = 0');
    this.worker.on('message', (m: unknown) => {
      if (m === 'hold') {
        gate.hold();
        this.holdTimer = setTimeout(() => this.release(), HOLD_LIMIT_MS).unref();
        this.worker.postMessage('held');
      } else if (m === 'release') {
        this.resets++;
        this.release();
      }
    });
    const fallback = () => {
      this.release();
      if (!this.stopping && sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    };
    this.worker.once('error', fallback);
    this.worker.once('exit', fallback);
  }

  private release(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.gate?.release();
  }

  /** Runs a last checkpoint and stops the thread. */
  async stop(): Promise<void> {
    this.stopping = true;
    const stopped = new Promise<void>((resolve) => {
      this.worker.on('message', (m) => m === 'stopped' && resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage('stop');
    await stopped;
    this.release();
    await this.worker.terminate();
  }
}
