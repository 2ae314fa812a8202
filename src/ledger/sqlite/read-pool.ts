import { ReadTimeoutError } from '../port/reader.js';
import { SqlThread, type Step } from './thread.js';

interface Job {
  step: Step;
  deadline: number;
  budgetMs: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * Read-only connections on worker threads for the reads that can take more than a millisecond
 * (usage, history, export pages), so that none runs on the event loop. Each read has a time budget
 * (ms) counted from its call, queueing included: past it, the call rejects with `ReadTimeoutError`
 * at once, while a thread running it stays busy until the statement returns. Threads open on first
 * use (the budget counts from when the thread is ready); there are never more than `size`.
 */
export class ReadPool {
  private readonly threads: (SqlThread | undefined)[];
  private readonly idle: number[] = [];
  private readonly queue: Job[] = [];
  private closed = false;

  /**
   * @param path the ledger file.
   * @param size threads (each runs one read at a time).
   * @param budgetMs the default budget of a read, ms.
   */
  constructor(
    private readonly path: string,
    size: number,
    readonly budgetMs: number,
  ) {
    this.threads = Array.from({ length: Math.max(1, size) }, () => undefined);
    for (let i = 0; i < this.threads.length; i++) this.idle.push(i);
  }

  /** Runs `step` on a thread; rejects with `ReadTimeoutError` past `budgetMs`, or with the statement's error. */
  query<T>(step: Step, budgetMs = this.budgetMs): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the ledger is closed'));
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        step,
        budgetMs,
        deadline: performance.now() + budgetMs,
        resolve: resolve as (v: unknown) => void,
        reject,
      };
      job.timer = setTimeout(() => this.expire(job), budgetMs);
      this.queue.push(job);
      this.dispatch();
    });
  }

  private expire(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    job.reject(new ReadTimeoutError(job.budgetMs));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const slot = this.idle.pop()!;
      let thread = this.threads[slot];
      clearTimeout(job.timer);
      if (!thread || thread.stopped) {
        // A thread opening its connection (tens of ms, more on a busy machine): the budget starts once it is ready.
        const fresh = (thread = this.threads[slot] = new SqlThread(this.path, { readonly: true }));
        const opened = performance.now();
        fresh.ready.then(
          () => {
            job.deadline += performance.now() - opened;
            this.run(job, slot, fresh);
          },
          (err: Error) => this.done(job, slot, false, () => job.reject(err)),
        );
        continue;
      }
      this.run(job, slot, thread);
    }
  }

  private run(job: Job, slot: number, thread: SqlThread): void {
    let late = false;
    job.timer = setTimeout(
      () => {
        // Past its budget while running: answer now. The thread stays busy until its statement
        // returns (SQLite statements cannot be interrupted through better-sqlite3), so a report
        // that runs for minutes holds one thread, never more.
        late = true;
        job.reject(new ReadTimeoutError(job.budgetMs));
      },
      Math.max(0, job.deadline - performance.now()),
    );
    thread.query(job.step).then(
      (v) => this.done(job, slot, late, () => job.resolve(v)),
      (e: Error) => this.done(job, slot, late, () => job.reject(e)),
    );
  }

  private done(job: Job, slot: number, late: boolean, settle: () => void): void {
    clearTimeout(job.timer);
    if (!late) settle();
    this.idle.push(slot);
    this.dispatch();
  }

  /** Rejects what is queued and closes every thread (one still busy after `graceMs` is left to end on its own). */
  async close(graceMs = 1_000): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      job.reject(new Error('the ledger is closed'));
    }
    await Promise.all(this.threads.map((t) => t?.close(graceMs)));
  }
}
