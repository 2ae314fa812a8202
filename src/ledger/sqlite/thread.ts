import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** One statement for a SQL thread: `all` rows, the first row (`get`), or `run` (`{ changes }`). */
export interface Step {
  sql: string;
  params?: unknown[];
  mode: 'all' | 'get' | 'run';
  /** For `run` in a transaction: the changes it must make, else the whole transaction rolls back (`SqlThreadConflict`). */
  expect?: number;
}

/** A transaction's step that changed another number of rows than its `expect`: nothing was written. */
export class SqlThreadConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlThreadConflict';
  }
}

/**
 * The thread: one better-sqlite3 connection on the ledger file (read-only, or writable for the
 * folder and the archiver), statements prepared once per SQL text. `query` runs one statement
 * (reads see one WAL snapshot each); `tx` runs steps in one `BEGIN IMMEDIATE` transaction; `seq` runs
 * steps one after another, each on its own (no write lock on the ledger unless a step writes it).
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { readonly: workerData.readonly, fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.busyMs);
if (!workerData.readonly) db.pragma('synchronous = NORMAL');
if (workerData.walAutocheckpoint !== undefined) db.pragma('wal_autocheckpoint = ' + workerData.walAutocheckpoint);
db.pragma('cache_size = -' + workerData.cacheKiB);
const cache = new Map();
const prepared = (sql) => {
  let s = cache.get(sql);
  if (!s) { s = db.prepare(sql); if (cache.size > 200) cache.clear(); cache.set(sql, s); }
  return s;
};
const exec = (step) => {
  const s = prepared(step.sql);
  const params = step.params || [];
  if (step.mode === 'all') return s.all(...params);
  if (step.mode === 'get') return s.get(...params);
  const r = s.run(...params);
  if (step.expect !== undefined && r.changes !== step.expect) {
    const e = new Error('expected ' + step.expect + ' change(s), got ' + r.changes + ': ' + step.sql.slice(0, 80));
    e.name = 'SqlThreadConflict';
    throw e;
  }
  return { changes: r.changes };
};
parentPort.on('message', (m) => {
  if (m.kind === 'close') { db.close(); parentPort.postMessage({ id: m.id, ok: true }); return; }
  try {
    const value =
      m.kind === 'tx' ? db.transaction(() => m.steps.map(exec)).immediate() : m.kind === 'seq' ? m.steps.map(exec) : exec(m.step);
    parentPort.postMessage({ id: m.id, ok: true, value });
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, error: { name: err.name, message: err.message, code: err.code } });
  }
});
parentPort.postMessage({ id: 0, ok: true });
`;

/**
 * How a `SqlThread` opens its connection. `walAutocheckpoint: 0` for a writable thread beside a
 * `Checkpointer`: with SQLite's default, a commit on the thread that finds the WAL past 1,000 pages
 * checkpoints inside that commit (copies the WAL into the database file and fsyncs both), and the
 * folder's and archiver's commits run while the serving connection's commit queue is held, so every
 * request queued meanwhile waited for that checkpoint and its fsyncs (at 1,000 RPS about one fold in
 * ten did, holding the queue three times as long; bench/profile/tail.ts with strace).
 */
export interface SqlThreadOptions {
  readonly: boolean;
  /** SQLite's busy timeout (ms; default 5,000). */
  busyMs?: number;
  /** Page cache (KiB; default 65,536). */
  cacheKiB?: number;
  /** WAL pages past which a commit checkpoints (0: never; absent: SQLite's default of 1,000). */
  walAutocheckpoint?: number;
}

type Reply = { id: number; ok: boolean; value?: unknown; error?: { name: string; message: string; code?: string } };

/**
 * A worker thread with its own connection to a SQLite ledger file, so that a statement that takes
 * milliseconds (a report, a fold, an archive's delete) never runs on the event loop. Calls are
 * answered in order. `terminate` stops the thread once its current statement returns (SQLite
 * statements cannot be interrupted from another thread through better-sqlite3).
 */
export class SqlThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private dead: Error | undefined;
  /** Resolves once the connection is open; rejects when it cannot be. */
  readonly ready: Promise<void>;

  /**
   * @param path the ledger file (it must exist).
   * @param opts `readonly` for reports; `busyMs` SQLite's busy timeout; `cacheKiB` its page cache;
   *   `walAutocheckpoint` the WAL pages (4 KiB) past which a commit of this connection checkpoints
   *   (0: never; absent: SQLite's default, 1,000 pages). See `SqlThreadOptions`.
   */
  constructor(path: string, opts: SqlThreadOptions) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        path,
        driver,
        readonly: opts.readonly,
        busyMs: opts.busyMs ?? 5_000,
        cacheKiB: opts.cacheKiB ?? 65_536,
        walAutocheckpoint: opts.walAutocheckpoint,
      },
    });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve: () => resolve(), reject }));
    this.ready.catch(() => {});
    this.worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else {
        const err =
          m.error!.name === 'SqlThreadConflict' ? new SqlThreadConflict(m.error!.message) : new Error(m.error!.message);
        if (m.error!.code) (err as Error & { code?: string }).code = m.error!.code;
        p.reject(err);
      }
    });
    const fail = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the SQL thread exited (code ${code})`)));
  }

  /** True once the thread died or was terminated. */
  get stopped(): boolean {
    return this.dead !== undefined;
  }

  /** Calls in flight. */
  get busy(): number {
    return this.pending.size;
  }

  private call<T>(message: Record<string, unknown>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  /** Runs one statement. */
  query<T>(step: Step): Promise<T> {
    return this.call<T>({ kind: 'query', step });
  }

  /** Runs the steps in one `BEGIN IMMEDIATE` transaction; resolves with each step's result. */
  transaction(steps: Step[]): Promise<unknown[]> {
    return this.call<unknown[]>({ kind: 'tx', steps });
  }

  /** Runs the steps one after another in one call, each in its own implicit transaction; stops at the first that throws. */
  sequence(steps: Step[]): Promise<unknown[]> {
    return this.call<unknown[]>({ kind: 'seq', steps });
  }

  /**
   * Closes the connection and ends the thread, after the calls queued before; a thread still busy
   * after `graceMs` (a statement that runs on) is left to end on its own (it does not keep the
   * process alive).
   */
  async close(graceMs = 1_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.call({ kind: 'close' }).then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (closed) await this.worker.terminate();
    else this.terminate();
  }

  /** Ends the thread without waiting: its statement in progress runs to its end, then the thread stops. */
  terminate(): void {
    this.dead ??= new Error('the SQL thread was stopped');
    void this.worker.terminate();
  }
}

/**
 * A `SqlThread` started on first use (a ledger opened and closed without folding or archiving —
 * tests, short CLI commands — never starts one).
 */
export class LazySqlThread {
  private thread: SqlThread | undefined;

  constructor(
    private readonly path: string,
    private readonly opts: SqlThreadOptions,
  ) {}

  private get started(): SqlThread {
    this.thread ??= new SqlThread(this.path, this.opts);
    return this.thread;
  }

  query<T>(step: Step): Promise<T> {
    return this.started.query<T>(step);
  }

  transaction(steps: Step[]): Promise<unknown[]> {
    return this.started.transaction(steps);
  }

  sequence(steps: Step[]): Promise<unknown[]> {
    return this.started.sequence(steps);
  }

  /** Closes the thread if it was started. */
  async close(): Promise<void> {
    await this.thread?.close();
  }
}
