import type { FoldResult, RollupStatus, RollupStore } from '../port/maintenance.js';

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
