import type { FoldResult, RollupStatus, RollupStore } from '../port/maintenance.js';

/**
 * Rows per fold transaction, learnt so that each takes about `targetMs` (ms), between `min` and
 * `max` rows: an engine's folder sizes its batches by it, so that a batch stays short however slow
 * the store is, and never grows past a bound however fast the last ones were.
 */
export class BatchSize {
  /** @param rows the first size (rows); @param min, @param max its bounds (rows); @param targetMs what one transaction should take (ms). */
  constructor(
    private rows: number,
    private readonly min: number,
    private readonly max: number,
    private readonly targetMs: number,
  ) {}
  /** Rows the next transaction takes (a whole number between `min` and `max`). */
  get value(): number {
    return Math.round(this.rows);
  }
  /**
   * Learns from a transaction of `rows` rows that took `ms`, full or not: a batch smaller than the
   * size (a fold of what came in since the last one) tells as much about the time per row. Fewer
   * rows than the minimum tell mostly the fixed cost, and are not learnt from.
   */
  took(rows: number, ms: number): void {
    if (rows < this.min) return;
    const next = (rows * this.targetMs) / Math.max(ms, 0.1);
    this.rows = Math.min(this.max, Math.max(this.min, 0.5 * this.rows + 0.5 * next));
  }
  /** A transaction of this size failed (a statement timeout, a lost connection): the next one is a quarter the size. */
  failed(): void {
    this.rows = Math.max(this.min, this.rows / 4);
  }
}

/**
 * Runs an engine's fold (`once`, one batch): on demand and, while serving, every interval — one
 * at a time, back to back while a backlog remains (`more`). A failed fold is kept in `lastError`
 * and retried at the next tick.
 */
export class FoldLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FoldResult> | undefined;
  private stopped = false;
  /** The last fold's error, if it failed (retried on the next tick). */
  lastError: Error | undefined;

  constructor(private readonly once: () => Promise<FoldResult>) {}

  /** Folds every `intervalMs` (ms), the first after `intervalMs`, and back to back (10 ms apart) while a backlog remains. */
  start(intervalMs = 1_000): void {
    const tick = async () => {
      this.timer = undefined;
      let again = false;
      try {
        again = (await this.fold()).more;
        this.lastError = undefined;
      } catch (err) {
        this.lastError = err as Error;
      }
      if (this.stopped) return;
      this.timer = setTimeout(tick, again ? 10 : intervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a fold in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One fold now, after one in progress. */
  async fold(): Promise<FoldResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.once();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }
}

/** An engine's `RollupStore`: folding through `loop` (absent on a read-only ledger), and `status` as the engine reads it. */
export class Rollups implements RollupStore {
  constructor(
    private readonly loop: FoldLoop | undefined,
    readonly status: () => Promise<RollupStatus>,
  ) {}

  fold(): Promise<FoldResult> {
    if (!this.loop) return Promise.reject(new Error('the ledger is open read-only: nothing can be folded'));
    return this.loop.fold();
  }

  async catchUp(): Promise<number> {
    let folded = 0;
    for (;;) {
      const r = await this.fold();
      folded += r.folded;
      if (!r.more && r.folded === 0 && r.sequenced === 0) return folded;
    }
  }
}
