import type { PromptTokens } from '../port.js';

/**
 * How long (ms) a `forwarded` mark waits before it is written: a request that finishes sooner is
 * settled first and needs no mark at all (most non-streamed requests), and the marks of one wait
 * go in one statement. So a mark is durable within 20–30 ms after its request's first byte went
 * upstream (SQLite: 10–30 ms); a crash before that resolves the row without charge (as on SQLite,
 * see its `ForwardedMarks`). 20 rather than 10: under load most requests then settle before their
 * mark is due, and the marks left take at most 50 statements a second instead of 100.
 */
export const FORWARDED_MARK_DELAY_MS = 20;

/**
 * `forwarded` marks to write: the rows (`ids`) and, at the same index, each one's prompt tokens when
 * admission did not count them (`prompts`, null: counted then, the row's estimate is kept).
 */
export interface Marks {
  ids: string[];
  prompts: (number | null)[];
}

/**
 * The `forwarded` marks of the Postgres adapter (see `LedgerWriter.forwarded`): collected for
 * `FORWARDED_MARK_DELAY_MS`, dropped for a request settled meanwhile, carried by the next
 * settlement sent meanwhile (`carry`), or else written with one statement for all (`write`, which
 * must never reject and leaves rows no longer held alone). A mark given its prompt counts it as it is
 * written (outside the statement), as on SQLite: a row settled before its mark is due is never counted.
 */
export class ForwardedMarks {
  private pending = new Map<string, PromptTokens | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<unknown>>();

  constructor(private readonly write: (marks: Marks) => Promise<unknown>) {}

  /** Notes that `requestId` went upstream (with its prompt, when admission did not count it). */
  add(requestId: string, prompt?: PromptTokens): void {
    this.pending.set(requestId, prompt);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), FORWARDED_MARK_DELAY_MS);
    this.timer.unref();
  }

  /** The request is being settled or voided: its mark, if not yet written, is no longer needed. */
  finished(requestId: string): void {
    this.pending.delete(requestId);
  }

  /**
   * Hands the marks collected so far to `send` (a statement that writes them with its own work, see
   * `tollgate_finish_marking`) instead of a statement of their own; `send` gets no ids when there
   * are none. `flush` waits for that statement too.
   */
  carry<T>(send: (marks: Marks) => Promise<T>): Promise<T> {
    if (this.pending.size === 0) return send({ ids: [], prompts: [] });
    const sent = send(this.take());
    const w: Promise<unknown> = sent.then(
      () => this.writing.delete(w),
      () => this.writing.delete(w),
    );
    this.writing.add(w);
    return sent;
  }

  /** Writes the marks collected so far; resolves once they and every write before are done. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size > 0) {
      const w = this.write(this.take()).finally(() => this.writing.delete(w));
      this.writing.add(w);
    }
    await Promise.all(this.writing);
  }

  /** The marks collected so far, their prompts counted (the rows are still open: a finished one left `pending`). */
  private take(): Marks {
    const ids = [...this.pending.keys()];
    const prompts = [...this.pending.values()].map((p) => (p ? p.tokens() : null));
    this.pending = new Map();
    return { ids, prompts };
  }
}
