import type { PromptTokens } from '../port.js';
import type { LedgerQueue } from './queue.js';

/**
 * How long (ms) a `forwarded` mark waits before it is handed to the group commit: a request that
 * finishes sooner is settled first and needs no mark at all (no statement), which is most
 * non-streamed requests. Then the mark rides with the next batch, or commits on its own within
 * another `FORWARDED_MARK_DELAY_MS`. So a mark is durable 10–30 ms after its request's first byte
 * went upstream; a crash before that resolves the row without charge.
 */
export const FORWARDED_MARK_DELAY_MS = 10;

/**
 * The `forwarded` marks of the SQLite adapter (see `LedgerWriter.forwarded`): collected for
 * `FORWARDED_MARK_DELAY_MS`, then written by one rider of the group commit (`LedgerQueue.later`)
 * with one UPDATE per row still held (its prompt's tokens with it, when admission did not count them).
 */
export class ForwardedMarks {
  private ids: string[] = [];
  private prompts: (PromptTokens | undefined)[] = [];
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param queue the ledger's group commit.
   * @param write marks the rows of `ids` still held, each with its prompt's tokens when
   *   `promptTokens[i]` is given (runs inside a batch's transaction).
   * @param isOpen whether a row this process admitted may still be held.
   */
  constructor(
    private readonly queue: LedgerQueue,
    private readonly write: (ids: readonly string[], promptTokens: readonly (number | undefined)[]) => void,
    private readonly isOpen: (requestId: string) => boolean,
  ) {}

  /** Notes that `requestId` went upstream (with its prompt, when it was not counted at admission). */
  add(requestId: string, prompt?: PromptTokens): void {
    this.ids.push(requestId);
    this.prompts.push(prompt);
    if (this.timer) return;
    this.timer = setTimeout(() => this.handOver(), FORWARDED_MARK_DELAY_MS);
    this.timer.unref();
  }

  /**
   * Hands what was collected to the group commit now (before recovery or close, which flush it).
   * The prompts of rows still open are counted here, outside any transaction: a batch's commit,
   * which other requests' calls wait for, never waits on the tokenizer.
   */
  handOver(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ids.length === 0) return;
    // The same lists if the rider is retried after a rollback.
    const ids = this.ids;
    const prompts = this.prompts;
    this.ids = [];
    this.prompts = [];
    const counts = prompts.map((p, i) => (p && this.isOpen(ids[i]!) ? p.tokens() : undefined));
    this.queue.later(() => this.write(ids, counts), FORWARDED_MARK_DELAY_MS);
  }
}
