import { refilled } from '../../limits/rate-limiter.js';
import type { BucketLevel, SpikeMinute } from '../port.js';

/**
 * The rate-limit buckets the workers of `serve --workers N` on SQLite share, in the owner's memory
 * (a restart refills them, as one process's own limiter does). `take` is atomic as the owner runs
 * one call at a time; `update` (a plan that only the worker can run: a refund, or a take naming a
 * bucket twice) is `lock` — the buckets read, every other call on the buckets waiting — then
 * `unlock` with what the plan left. A worker that dies holding the lock releases it (`release`).
 */
export class OwnerBuckets {
  private readonly levels = new Map<string, BucketLevel>();
  /** The worker holding the lock, and the calls waiting for it. */
  private holder: string | number | undefined;
  private readonly waiting: (() => void)[] = [];

  private async free(): Promise<void> {
    while (this.holder !== undefined) await new Promise<void>((r) => this.waiting.push(r));
  }

  /**
   * Refills the buckets `ids` to `nowMs` at `limits[i]` per minute (absent: full), takes `amounts[i]`
   * from all or, when one has less than its amount, from none; resolves to the levels before the
   * take (the arithmetic of `BucketStore.take`).
   */
  async take(ids: string[], limits: number[], amounts: number[], nowMs: number): Promise<number[]> {
    await this.free();
    const before = ids.map((id, i) => refilled(this.levels.get(id), limits[i]!, nowMs));
    const ok = before.every((level, i) => level >= amounts[i]!);
    ids.forEach((id, i) => this.levels.set(id, { level: before[i]! - (ok ? amounts[i]! : 0), at: nowMs }));
    return before;
  }

  /** Takes the lock for `worker` and answers the buckets `ids` there are. */
  async lock(worker: string | number, ids: string[]): Promise<[string, BucketLevel][]> {
    await this.free();
    this.holder = worker;
    return ids.flatMap((id) => {
      const b = this.levels.get(id);
      return b ? [[id, { ...b }] as [string, BucketLevel]] : [];
    });
  }

  /** Writes what `worker`'s plan left and releases its lock. */
  unlock(worker: string | number, buckets: [string, BucketLevel][]): void {
    if (this.holder !== worker) return;
    for (const [id, b] of buckets) this.levels.set(id, b);
    this.release(worker);
  }

  /** Releases `worker`'s lock, if it holds it. */
  release(worker: string | number): void {
    if (this.holder !== worker) return;
    this.holder = undefined;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

/** The usage-spike minutes the workers share, in the owner's memory (the arithmetic of `SpikeStore`). */
export class OwnerSpikes {
  private readonly minutes = new Map<string, Map<number, number>>();

  /** Adds `deltas`; answers every stored minute from `fromMinute` on of their subjects. */
  add(deltas: SpikeMinute[], fromMinute: number): SpikeMinute[] {
    for (const d of deltas) {
      let m = this.minutes.get(d.subject);
      if (!m) this.minutes.set(d.subject, (m = new Map()));
      m.set(d.minute, (m.get(d.minute) ?? 0) + d.tokens);
    }
    const out: SpikeMinute[] = [];
    for (const subject of new Set(deltas.map((d) => d.subject)))
      for (const [minute, tokens] of this.minutes.get(subject)!)
        if (minute >= fromMinute) out.push({ subject, minute, tokens });
    return out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.minute - b.minute));
  }

  /** Deletes every minute before `beforeMinute`. */
  forget(beforeMinute: number): void {
    for (const [subject, m] of this.minutes) {
      for (const minute of m.keys()) if (minute < beforeMinute) m.delete(minute);
      if (m.size === 0) this.minutes.delete(subject);
    }
  }
}
