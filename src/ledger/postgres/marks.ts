import type { PromptTokens } from '../port.js';

/**
 * How long (ms) a `forwarded` mark waits before it is written: a request that finishes sooner is
 * settled first and needs no mark at all (most non-streamed requests: no row written twice). A mark
 * due rides the next settlement this process sends (`carry`), and those no settlement carried within
 * `FORWARDED_MARK_SLACK_MS` more are written by one statement for all. So a mark is durable within
 * 20–30 ms after its request's first byte went upstream (SQLite: 10–30 ms); a crash before that
 * resolves the row without charge (as on SQLite, see its `ForwardedMarks`). Under load a settlement
 * leaves every few milliseconds, so marks take no round trip of their own.
 */
export const FORWARDED_MARK_DELAY_MS = 20;
/** How long (ms) a due mark waits for a settlement to carry it before it is written on its own. */
export const FORWARDED_MARK_SLACK_MS = 10;

/**
 * `forwarded` marks to write: the rows (`ids`) and, at the same index, each one's prompt tokens when
 * admission did not count them (`prompts`, null: counted then, the row's estimate is kept).
 */
export interface Marks {
  ids: string[];
  prompts: (number | null)[];
}

/** A mark waiting: its prompt (when admission did not count it) and when it was made (ms, `performance.now()`). */
interface Pending {
  prompt: PromptTokens | undefined;
  at: number;
}

/**
 * The `forwarded` marks of the Postgres adapter (see `LedgerWriter.forwarded`): collected, dropped for a
 * request settled meanwhile, carried once due by the next settlement (`carry`), or else written with one
 * statement for all (`write`, which must never reject and leaves rows no longer held alone). A mark given
 * its prompt counts it as it is written (outside the statement), as on SQLite: a row settled before its
 * mark is due is never counted.
 */
export class ForwardedMarks {
  /** In the order made (a Map keeps insertion order): the oldest first. */
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<unknown>>();

  constructor(private readonly write: (marks: Marks) => Promise<unknown>) {}

  /** Notes that `requestId` went upstream (with its prompt, when admission did not count it); its first mark counts. */
  add(requestId: string, prompt?: PromptTokens): void {
    if (this.pending.has(requestId)) return;
    this.pending.set(requestId, { prompt, at: performance.now() });
    this.schedule();
  }

  /** The request is being settled or voided: its mark, if not yet written, is no longer needed. */
  finished(requestId: string): void {
    this.pending.delete(requestId);
  }

  /**
   * Hands the marks due (made `FORWARDED_MARK_DELAY_MS` ago or more) to `send` (a statement that writes
   * them with its own work, see `tollgate_finish_marking`) instead of a statement of their own; `send`
   * gets no ids when none is due. `flush` waits for that statement too.
   */
  carry<T>(send: (marks: Marks) => Promise<T>): Promise<T> {
    const due = this.take(performance.now() - FORWARDED_MARK_DELAY_MS);
    if (due.ids.length === 0) return send(due);
    const sent = send(due);
    const w: Promise<unknown> = sent.then(
      () => this.writing.delete(w),
      () => this.writing.delete(w),
    );
    this.writing.add(w);
    return sent;
  }

  /** Writes every mark collected so far, due or not; resolves once they and every write before are done. */
  async flush(): Promise<void> {
    this.writeDue(Infinity);
    await Promise.all(this.writing);
  }

  /** Writes the marks made at or before `upTo` in one statement, then waits for the next ones. */
  private writeDue(upTo: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = this.take(upTo);
    if (due.ids.length > 0) {
      const w = this.write(due).finally(() => this.writing.delete(w));
      this.writing.add(w);
    }
    this.schedule();
  }

  /** A timer for the oldest mark waiting, when none is set: it writes what no settlement carried. */
  private schedule(): void {
    if (this.timer) return;
    const oldest = this.pending.values().next();
    if (oldest.done) return;
    const wait = oldest.value.at + FORWARDED_MARK_DELAY_MS + FORWARDED_MARK_SLACK_MS - performance.now();
    // Only the marks no settlement could carry within their slack: the others still may.
    const late = () => this.writeDue(performance.now() - FORWARDED_MARK_DELAY_MS - FORWARDED_MARK_SLACK_MS);
    this.timer = setTimeout(late, Math.max(0, wait));
    this.timer.unref();
  }

  /** The marks made at or before `upTo`, taken out, their prompts counted (the rows are still open: a finished one left `pending`). */
  private take(upTo: number): Marks {
    const marks: Marks = { ids: [], prompts: [] };
    for (const [id, p] of this.pending) {
      if (p.at > upTo) break;
      marks.ids.push(id);
      marks.prompts.push(p.prompt ? p.prompt.tokens() : null);
      this.pending.delete(id);
    }
    return marks;
  }
}
