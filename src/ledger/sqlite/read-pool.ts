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
 * and a thread still running it is replaced (it stops once its statement returns). Threads open on
 * first use.
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
      if (!thread || thread.stopped) thread = this.threads[slot] = new SqlThread(this.path, { readonly: true });
      const running = thread;
      let late = false;
      clearTimeout(job.timer);
      job.timer = setTimeout(
        () => {
          // Past its budget while running: answer now, and retire the thread (its statement runs on).
          late = true;
          running.terminate();
          this.threads[slot] = undefined;
          job.reject(new ReadTimeoutError(job.budgetMs));
          this.idle.push(slot);
          this.dispatch();
        },
        Math.max(0, job.deadline - performance.now()),
      );
      running.query(job.step).then(
        (v) => this.done(job, slot, late, () => job.resolve(v)),
        (e: Error) => this.done(job, slot, late, () => job.reject(e)),
      );
    }
  }

  private done(job: Job, slot: number, late: boolean, settle: () => void): void {
    if (late) return;
    clearTimeout(job.timer);
    settle();
    this.idle.push(slot);
    this.dispatch();
  }

  /** Rejects what is queued and closes every thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      job.reject(new Error('the ledger is closed'));
    }
    await Promise.all(this.threads.map((t) => t?.close()));
  }
}
