import type { Lease } from './lease.js';

/**
 * Which response each lease pays for, as the upstream decides (no I/O here; `session.ts` acts on
 * the answers). OpenAI's Realtime API runs at most one response in the conversation at a time — a
 * `response.create` sent while one is active is answered with an `error` event
 * (`conversation_already_has_active_response`) naming the create's `event_id` — and runs
 * out-of-band responses (`response.conversation: "none"`) concurrently. It answers client events in
 * the order it receives them. Source: OpenAI's Realtime reference (client event `response.create`,
 * server events `response.created`, `response.done`, `error`; `RealtimeResponse.conversation_id`).
 *
 * - A create tollgate forwarded is *pending* until the upstream starts a response for it
 *   (`response.created`: the oldest pending create of the response's kind) or refuses it (`error`
 *   naming its `event_id`).
 * - A response runs on its create's lease; one the upstream started by itself (voice activity)
 *   takes the *standby* lease, or none — the session then admits one late.
 */

/** A `response.create` forwarded upstream and not yet answered. */
export interface PendingCreate {
  /** The `event_id` it went upstream with (the client's, or one tollgate set). */
  eventId: string;
  /** The client's own `event_id`, or null when it sent none. */
  clientEventId: string | null;
  outOfBand: boolean;
  /** Its row: a lease (a hold), or — `ticket` — a row without a hold for a create the upstream is expected to refuse (see `inConversationBusy`). */
  lease: Lease;
  ticket: boolean;
  /** performance.now() ms when it was forwarded. */
  sentAt: number;
}

/** A response the upstream is running. */
export interface RunningResponse {
  /** Its lease; a promise while one is admitted late. */
  lease: Promise<Lease | undefined>;
  outOfBand: boolean;
  /** performance.now() ms of its `response.created`. */
  startedAt: number;
}

/** What the upstream said about a response's conversation: `conversation_id` a string, null, or absent (beta). */
export type ResponseKind = 'in_conversation' | 'out_of_band' | 'unknown';

/** The pending creates and running responses of one session, and its standby lease. */
export class ResponseBook {
  /** A lease held for the next in-conversation response, whoever starts it. */
  standby?: Lease;
  private readonly pending = new Map<string, PendingCreate>();
  private readonly running = new Map<string, RunningResponse>();

  /**
   * True while an in-conversation response runs or a create for one is pending: another
   * in-conversation create would be refused by the upstream, so it is not leased.
   */
  inConversationBusy(): boolean {
    for (const p of this.pending.values()) if (!p.outOfBand) return true;
    for (const r of this.running.values()) if (!r.outOfBand) return true;
    return false;
  }

  /** True when `eventId` names a create still pending. */
  isPending(eventId: string): boolean {
    return this.pending.has(eventId);
  }

  addPending(create: PendingCreate): void {
    this.pending.set(create.eventId, create);
  }

  /**
   * A response the upstream started: bound to the oldest pending create of its kind (`unknown`:
   * any), which leaves the pending set, or to nothing (a response the upstream started by itself).
   */
  started(kind: ResponseKind): PendingCreate | undefined {
    for (const p of this.pending.values()) {
      if (kind === 'unknown' || p.outOfBand === (kind === 'out_of_band')) {
        this.pending.delete(p.eventId);
        return p;
      }
    }
    return undefined;
  }

  /** Records the lease a started response runs on. */
  run(responseId: string, response: RunningResponse): void {
    this.running.set(responseId, response);
  }

  /** The create the upstream refused (an `error` naming its `event_id`), which leaves the pending set. */
  refused(eventId: string): PendingCreate | undefined {
    const create = this.pending.get(eventId);
    if (create) this.pending.delete(eventId);
    return create;
  }

  /** The response that just finished (`response.done`), which leaves the running set. */
  finished(responseId: string): RunningResponse | undefined {
    const r = this.running.get(responseId);
    this.running.delete(responseId);
    return r;
  }

  /** Responses running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** Creates waiting for the upstream's answer. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Empties the book at the session's end: what was running (to charge an estimate) and pending (to release). */
  drain(): { running: [string, RunningResponse][]; pending: PendingCreate[]; standby?: Lease } {
    const out = { running: [...this.running], pending: [...this.pending.values()], standby: this.standby };
    this.running.clear();
    this.pending.clear();
    this.standby = undefined;
    return out;
  }
}
