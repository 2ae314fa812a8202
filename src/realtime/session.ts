import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Runtime } from '../runtime.js';
import type { ClientEvent, FrameRefusal } from './client-frame.js';
import { createEventId, errorEvent } from './events.js';
import type { Lease, LeaseRefusal, SessionLedger } from './lease.js';
import { RealtimeMeter, type Signal } from './meter.js';
import { asBuffer, Pipe } from './pipe.js';
import { ResponseBook, type ResponseKind } from './responses.js';
import { estimateCutResponse } from './usage.js';

/** Why a session is being ended by tollgate: the error event sent, then the close code. */
interface CutOff {
  code: 'insufficient_quota' | 'session_expired';
  message: string;
  /** 1008 (policy violation) when the money ran out; 1000 when the session reached its maximum length. */
  closeCode: number;
}

/**
 * The client's end of a session: a WebSocket tollgate relays (see `ws-client.ts`), or — for a
 * WebRTC call, whose client talks to the upstream directly — nothing tollgate can write to.
 */
export interface ClientEnd {
  /** Sends a frame to the client: an upstream frame as it came, or one of tollgate's events. */
  send(data: Buffer | string, isBinary: boolean): void;
  /** Ends the client's side (a call: hangs it up). */
  close(code: number, reason: string): void;
  /** Ends it at once. */
  terminate(): void;
}

/** Close codes a peer may send (RFC 6455 §7.4); others (1005, 1006, 1015) are replaced by 1000. */
const sendable = (code: number) =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

/** Client items waiting their turn: an event to forward (a create is admitted first), or a refused frame to answer. */
type Queued = ClientEvent | { refused: FrameRefusal };

/**
 * One metered Realtime session: client ⇄ tollgate ⇄ upstream. Client events arrive decided (see
 * `client-frame.ts`) and go upstream in order as their canonical text; upstream events go to the
 * client unchanged (tollgate's `event_id` on a refused create is put back to the client's). Leases
 * follow the upstream (see `ResponseBook`):
 * - a `response.create` is leased before it is forwarded (the standby lease, else a new one) —
 *   one per out-of-band create, at most one in-conversation create while the conversation has a
 *   response pending or running (the others go on a row without a hold: the upstream refuses them);
 *   a create that cannot be leased is refused with an `error` event (`insufficient_quota`,
 *   `rate_limit_exceeded`), not forwarded, and the session goes on;
 * - the upstream's `error` naming a pending create voids its row; `response.done` settles the
 *   response's row from its usage (cancelled, failed and incomplete ones too);
 * - a response the upstream starts by itself (turn detection) runs on the standby lease, kept while
 *   the session's turn detection creates responses, or on one admitted as it starts; when none can
 *   be had, that response is cancelled (`response.cancel`) and charged what it used, and — for
 *   money — the session is cut off: the upstream, not the client, starts responses there, and
 *   tollgate can no longer pay for them;
 * - a cut-off (or `realtime.maxSessionSeconds`) sends an `error` event, refuses creates, cancels
 *   responses the upstream starts, and closes both sides once no response is pending or running;
 * - either side closing closes the other; responses cut short are charged an estimate (usage
 *   source `estimated`), leases no response used are settled at zero.
 */
export class RealtimeSession {
  private readonly meter = new RealtimeMeter();
  private readonly book = new ResponseBook();
  private readonly toUpstream?: Pipe;
  /** Ledger work under way (settles, admissions), awaited before the session's last rows are written. */
  private readonly work = new Set<Promise<unknown>>();
  private readonly queue: Queued[] = [];
  private draining = false;
  /** The standby lease's admission, while under way. */
  private renewal?: Promise<void>;
  /** Whether the upstream starts responses by itself (turn detection); OpenAI's default is on. */
  private autoResponses = true;
  /** `event_id`s tollgate set on pending creates → the client's own (null: it sent none). */
  private readonly assigned = new Map<string, string | null>();
  private cutOff?: CutOff;
  private lastInputTokens = 0;
  private ended = false;
  private finishing = false;
  private endReason?: string;
  private cutShortCode = 'client_disconnected';
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  /** Resolves once both sides are closed and every row of the session is settled. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  /**
   * @param clientSocket the client's WebSocket when tollgate relays it (undefined for a call):
   *   upstream frames are paused while it reads slowly, and its frames while the upstream does.
   * @param initial client events sent upstream before any of the client's (a client secret's session settings).
   */
  constructor(
    private readonly rt: Runtime,
    private readonly client: ClientEnd,
    private readonly upstream: WebSocket,
    private readonly ledger: SessionLedger,
    opening: Lease,
    clientSocket?: WebSocket,
    initial: string[] = [],
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.book.standby = opening;
    if (clientSocket) this.toUpstream = new Pipe(clientSocket, upstream);
    for (const text of initial) this.sendUpstream(text);
    upstream.on('message', (data, isBinary) => this.fromUpstream(asBuffer(data), isBinary));
    upstream.on('close', (code, reason) => this.closed('upstream', code, reason));
    upstream.on('error', () => upstream.terminate());
    upstream.resume(); // paused since it opened (see `whenOpen`)
    const seconds = rt.config.realtime.maxSessionSeconds;
    this.timer = setTimeout(
      () =>
        this.cut({
          code: 'session_expired',
          message: `Your session hit the maximum duration of ${seconds} seconds allowed by tollgate.`,
          closeCode: 1000,
        }),
      seconds * 1000,
    );
    this.timer.unref();
  }

  /** A client frame, decided: queued behind the frames before it, answered in order. */
  fromClient(item: Queued): void {
    this.queue.push(item);
    if (!this.draining) void this.drain();
  }

  /** The client closed its side (code and reason as received). */
  clientClosed(code: number, reason: Buffer): void {
    this.closed('client', code, reason);
  }

  /**
   * Ends the session from tollgate's side (shutdown): both sides closed with 1001, cut after
   * `graceMs` if a peer does not answer the close; resolves once the rows are settled.
   */
  shutdown(graceMs: number): Promise<void> {
    this.client.close(1001, 'tollgate is shutting down');
    this.upstream.close(1001, 'going away');
    const force = setTimeout(() => {
      this.client.terminate();
      this.upstream.terminate();
    }, graceMs);
    return this.done.finally(() => clearTimeout(force));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) {
        const item = this.queue.shift()!;
        if ('refused' in item) {
          const { code, message, param, eventId } = item.refused;
          this.client.send(errorEvent(code, message, eventId, param), false);
        } else if (item.create) await this.track(this.create(item, item.create.outOfBand));
        else this.sendUpstream(JSON.stringify(item.event));
      }
    } finally {
      this.draining = false;
    }
  }

  /** Leases a `response.create` and forwards it, or refuses it with an `error` event. */
  private async create(item: ClientEvent, outOfBand: boolean): Promise<void> {
    if (this.ended) return;
    if (this.cutOff) return this.client.send(errorEvent(this.cutOff.code, this.cutOff.message, item.eventId), false);
    let eventId = item.eventId;
    if (eventId === null || this.book.isPending(eventId) || eventId.length > 256) {
      eventId = createEventId();
      this.assigned.set(eventId, item.eventId);
    }
    let lease: Lease | LeaseRefusal;
    const ticket = !outOfBand && this.book.inConversationBusy();
    if (ticket) lease = await this.ledger.ticket();
    else {
      if (!outOfBand) await this.renewal;
      const standby = outOfBand ? undefined : this.book.standby;
      if (standby) this.book.standby = undefined;
      lease = standby ?? (await this.ledger.lease());
    }
    if ('code' in lease) {
      this.assigned.delete(eventId);
      return this.client.send(errorEvent(lease.code, lease.message, item.eventId), false);
    }
    if (this.ended) return this.ledger.release(lease, this.elapsed(), this.endReason);
    this.book.addPending({ eventId, clientEventId: item.eventId, outOfBand, lease, ticket, sentAt: performance.now() });
    this.sendUpstream(JSON.stringify({ ...item.event, event_id: eventId }));
  }

  private sendUpstream(text: string): void {
    if (this.toUpstream) this.toUpstream.send(text, false);
    else if (this.upstream.readyState === WebSocket.OPEN) this.upstream.send(text);
  }

  private fromUpstream(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.client.send(data, true);
    const signal = this.meter.read(data.toString('utf8'));
    if (signal?.kind === 'error' && signal.eventId !== undefined && this.assigned.has(signal.eventId)) {
      // The client never saw the id tollgate gave its create: answer with its own (or none).
      const event = JSON.parse(data.toString('utf8')) as { error: { event_id: string | null } };
      event.error.event_id = this.assigned.get(signal.eventId)!;
      this.client.send(JSON.stringify(event), false);
    } else this.client.send(data, false);
    if (signal) this.bill(signal);
  }

  private bill(signal: Signal): void {
    this.ledger.upstreamSessionId ??= this.meter.upstreamSessionId;
    switch (signal.kind) {
      case 'response.created':
        return this.started(signal.responseId, signal.conversation);
      case 'response.done':
        return this.finished(signal);
      case 'error': {
        const create = signal.eventId === undefined ? undefined : this.book.refused(signal.eventId);
        if (!create) return;
        this.assigned.delete(create.eventId);
        const latencyMs = round(performance.now() - create.sentAt);
        this.track(this.ledger.refused(create.lease, latencyMs, signal.code ?? 'upstream_error'));
        return this.closeIfCut();
      }
      case 'session':
        if (signal.autoResponses !== undefined) this.autoResponses = signal.autoResponses;
        return this.renewStandby();
      case 'transcription': {
        if (!signal.usage) return;
        // The model comes from the session the upstream confirmed; unknown, the row is flagged model_not_priced.
        const model = signal.model ?? 'unknown-transcription-model';
        const message = "The grants or a quota could not cover this session's input transcription.";
        this.track(
          this.ledger
            .chargeTranscription(model, signal.usage)
            .then((covered) => covered || this.cut(quotaCut(message))),
        );
      }
    }
  }

  /** A response the upstream started: on its create's lease, the standby, or one admitted now. */
  private started(responseId: string, conversation: ResponseKind): void {
    const create = this.book.started(conversation);
    if (create) this.assigned.delete(create.eventId);
    let lease: Promise<Lease | undefined>;
    if (create && !create.ticket) lease = Promise.resolve(create.lease);
    else if (this.book.standby && !this.cutOff) {
      lease = Promise.resolve(this.book.standby);
      this.book.standby = undefined;
      if (create)
        this.track(this.ledger.release(create.lease, round(performance.now() - create.sentAt), 'leased_late'));
    } else lease = this.track(this.leaseLate(responseId, create?.lease));
    this.book.run(responseId, { lease, outOfBand: conversation === 'out_of_band', startedAt: performance.now() });
  }

  /**
   * A lease for a response that started without one — the upstream started it by itself, or ran a
   * create forwarded on a `ticket` (its row without a hold) after all: the standby being admitted,
   * else a new one (the ticket's row is then settled at zero, `leased_late`). Refused (or cut off),
   * the response is cancelled and runs on the ticket's row, or a row without a hold; a refusal for
   * money cuts the session off.
   */
  private async leaseLate(responseId: string, ticket?: Lease): Promise<Lease | undefined> {
    if (!this.cutOff) {
      await this.renewal;
      let lease: Lease | LeaseRefusal | undefined = this.book.standby;
      if (lease) this.book.standby = undefined;
      else if (!this.ended) lease = await this.ledger.lease();
      if (lease && 'requestId' in lease) {
        if (ticket) await this.ledger.release(ticket, 0, 'leased_late');
        return lease;
      }
      if (lease) {
        this.client.send(errorEvent(lease.code, lease.message, null), false);
        if (lease.code === 'insufficient_quota') this.cut(quotaCut(lease.message), false);
      }
    }
    this.sendUpstream(JSON.stringify({ type: 'response.cancel', event_id: createEventId(), response_id: responseId }));
    return ticket;
  }

  private finished(signal: Signal & { kind: 'response.done' }): void {
    const flight = this.book.finished(signal.responseId);
    const latencyMs = flight ? round(performance.now() - flight.startedAt) : 0;
    if (signal.usage) this.lastInputTokens = signal.usage.inputTokens;
    const usage = signal.usage ?? estimateCutResponse(this.ledger.facts.model ?? '', this.lastInputTokens, signal.seen);
    const errorCode = signal.status === 'failed' ? (signal.errorCode ?? 'response_failed') : undefined;
    this.track(
      (async () => {
        const lease = await flight?.lease;
        await this.ledger.chargeResponse(lease, usage, signal.usage ? 'upstream' : 'estimated', {
          latencyMs,
          errorCode,
        });
        this.renewStandby();
        this.closeIfCut();
      })(),
    );
  }

  /** Admits the standby lease when the upstream may start responses by itself and none is held. */
  private renewStandby(): void {
    if (this.renewal || this.book.standby || !this.autoResponses || this.cutOff || this.ended) return;
    const renewal = this.track(
      (async () => {
        const result = await this.ledger.lease();
        if (!('requestId' in result)) return; // refused: a later create or response tries again
        if (this.ended || this.book.standby) await this.ledger.release(result, this.elapsed(), this.endReason);
        else this.book.standby = result;
      })(),
    );
    this.renewal = renewal;
    void renewal.finally(() => {
      if (this.renewal === renewal) this.renewal = undefined;
    });
  }

  /** Starts a cut-off (once): the error event now (unless sent already), the close once nothing is pending or running. */
  private cut(c: CutOff, tell = true): void {
    if (this.cutOff || this.ended) return;
    this.cutOff = c;
    this.rt.log.info({ sessionId: this.ledger.facts.sessionId, code: c.code }, 'realtime session cut off');
    if (tell) this.client.send(errorEvent(c.code, c.message, null), false);
    this.closeIfCut();
  }

  private closeIfCut(): void {
    if (!this.cutOff || this.book.runningCount > 0 || this.book.pendingCount > 0) return;
    this.client.close(this.cutOff.closeCode, this.cutOff.code);
    this.upstream.close(1000, 'session ended by the proxy');
  }

  /**
   * One side closed: the other is closed with its code, and no create is forwarded any more. The
   * last rows are written once the upstream's socket is closed too — until then it may still send
   * a response it started (a create it got before the close).
   */
  private closed(side: 'client' | 'upstream', code: number, reason: Buffer): void {
    const why = sendable(code) ? code : 1000;
    const text = reason.byteLength <= 123 ? reason.toString('utf8') : '';
    if (side === 'client') this.upstream.close(why, text);
    else this.client.close(why, text);
    if (!this.ended) {
      this.ended = true;
      clearTimeout(this.timer);
      const normal = code === 1000 || code === 1001;
      this.endReason =
        this.cutOff?.code ?? (normal ? undefined : side === 'client' ? 'client_disconnected' : 'upstream_disconnected');
      this.cutShortCode = this.cutOff?.code ?? (side === 'client' ? 'client_disconnected' : 'upstream_disconnected');
    }
    if (side === 'upstream' && !this.finishing) {
      this.finishing = true;
      void this.finish();
    }
  }

  private elapsed = () => round(performance.now() - this.startedAt);

  /** Writes the session's last rows once both sides are gone: responses cut short, leases no response used. */
  private async finish(): Promise<void> {
    try {
      while (this.work.size) await Promise.allSettled([...this.work]);
      const { running, pending, standby } = this.book.drain();
      const model = this.ledger.facts.model ?? '';
      for (const [id, flight] of running) {
        const usage = estimateCutResponse(model, this.lastInputTokens, this.meter.partialOf(id));
        await this.ledger.chargeResponse(await flight.lease, usage, 'estimated', {
          latencyMs: round(performance.now() - flight.startedAt),
          errorCode: this.cutShortCode,
        });
      }
      for (const p of pending) await this.ledger.release(p.lease, this.elapsed(), this.cutShortCode);
      if (standby) await this.ledger.release(standby, this.elapsed(), this.endReason);
    } catch (err) {
      this.rt.log.error(
        { err, sessionId: this.ledger.facts.sessionId },
        'could not settle a realtime session; its holds stay open until the next start',
      );
    } finally {
      this.resolveDone();
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const tracked = p.catch((err: unknown) => {
      this.rt.log.error({ err, sessionId: this.ledger.facts.sessionId }, 'realtime ledger call failed');
      return undefined as T;
    });
    this.work.add(tracked);
    void tracked.finally(() => this.work.delete(tracked));
    return tracked;
  }
}

const quotaCut = (message: string): CutOff => ({ code: 'insufficient_quota', message, closeCode: 1008 });
const round = (ms: number) => Math.round(ms * 1000) / 1000;
