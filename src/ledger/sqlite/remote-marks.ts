import type { PromptTokens } from '../port.js';
import { FORWARDED_MARK_DELAY_MS } from './forwarded.js';

/**
 * A worker's `forwarded` marks (see `ForwardedMarks`, the owner's side): collected for
 * `FORWARDED_MARK_DELAY_MS`; a row this worker settles or voids meanwhile needs none and is
 * dropped (its prompt never counted); the rest go to the owner in one message, each with its
 * prompt's tokens when admission did not count them (counted here, where the prompt is).
 */
export class RemoteMarks {
  private pending = new Map<string, PromptTokens | undefined>();
  private timer: NodeJS.Timeout | undefined;

  /** @param send hands `ids` and their counted prompts (tokens, or undefined) to the owner. */
  constructor(private readonly send: (ids: string[], promptTokens: (number | undefined)[]) => void) {}

  /** Notes that `requestId` went upstream. */
  add(requestId: string, prompt?: PromptTokens): void {
    this.pending.set(requestId, prompt);
    if (this.timer) return;
    this.timer = setTimeout(() => this.handOver(), FORWARDED_MARK_DELAY_MS);
    this.timer.unref();
  }

  /** The row finished (settle, void) before its mark left: it needs none. */
  finished(requestId: string): void {
    this.pending.delete(requestId);
  }

  /** Sends what was collected now (also before recovery and close). */
  handOver(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const marks = this.pending;
    this.pending = new Map();
    this.send(
      [...marks.keys()],
      [...marks.values()].map((p) => p?.tokens()),
    );
  }
}
