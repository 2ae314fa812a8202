import type { CommitGate } from './checkpointer.js';

/**
 * Several holders of the ledger's commit queue (the checkpointer's WAL reset, the folder's and the
 * archiver's short write transactions on their own threads): each takes a `lease`, and the queue
 * stays held while any lease holds it. A lease's `hold` and `release` are idempotent, as the
 * checkpointer calls `release` from more than one path.
 */
export class SharedGate {
  private holders = 0;

  constructor(private readonly queue: CommitGate) {}

  /** A holder's own handle on the queue. */
  lease(): CommitGate {
    let holding = false;
    return {
      hold: () => {
        if (holding) return;
        holding = true;
        if (this.holders++ === 0) this.queue.hold();
      },
      release: () => {
        if (!holding) return;
        holding = false;
        if (--this.holders === 0) this.queue.release();
      },
    };
  }
}
