import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { Runtime } from '../runtime.js';
import type { Lease, LeaseRefusal, SessionLedger } from './lease.js';
import { RealtimeMeter, type Signal } from './meter.js';
import { Pipe } from './pipe.js';
import { estimateCutResponse } from './usage.js';

/** Why a session is being ended by tollgate: the error event sent, then the close code. */
interface CutOff {
  code: 'insufficient_quota' | 'session_expired';
  message: string;
  /** 1008 (policy violation) when the money ran out; 1000 when the session reached its maximum length. */
  closeCode: number;
}

/** A response the upstream is producing: its row (once its lease is known) and when it started. */
interface InFlight {
  lease: Promise<Lease | undefined>;
  startedAt: number;
}

/** Close codes a peer may send (RFC 6455 §7.4); others (1005, 1006, 1015) are replaced by 1000. */
const sendable = (code: number) =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

let eventSeq = 0;

/**
 * One relayed Realtime session: client ⇄ tollgate ⇄ upstream. Frames pass both ways unchanged and in
 * order (see `Pipe`); tollgate reads the upstream's events to bill (see `RealtimeMeter`) and the
 * client's `response.create` events to admit them:
 * - a response runs on a lease (see `SessionLedger`): the opening lease, or one admitted when the
 *   client asks for a response and none is free (the client's later frames wait, in order, until
 *   it is decided); a response the upstream starts by itself (voice activity) takes the free lease;
 * - after every `response.done` its row is settled and, if no lease is free, one is admitted: when
 *   the grants or a quota cannot cover it, the session is cut off — an `error` event with code
 *   `insufficient_quota` goes to the client, no `response.create` is forwarded any more, the
 *   responses in flight finish, then both sides are closed (client: 1008);
 * - a per-minute rate limit refuses that one `response.create` with an `error` event
 *   (`rate_limit_exceeded`), not forwarded; the session goes on;
 * - `realtime.maxSessionSeconds` after connecting the session is cut off the same way
 *   (`session_expired`, close 1000);
 * - either side closing closes the other with its code; then responses cut short are charged an
 *   estimate (usage source `estimated`) and leases no response used are settled at zero.
 */
export class RealtimeSession {
  private readonly meter = new RealtimeMeter();
  private readonly toClient: Pipe;
  private readonly toUpstream: Pipe;
  /** Leases admitted and not yet taken by a response; `claims` of them are promised to `response.create`s forwarded. */
  private readonly free: Lease[] = [];
  private claims = 0;
  private readonly inFlight = new Map<string, InFlight>();
  /** Ledger work under way (settles, admissions), awaited before the session's last rows are written. */
  private readonly work = new Set<Promise<unknown>>();
  /** Client frames waiting while a `response.create` is being admitted. */
  private readonly waiting: { data: Buffer; isBinary: boolean }[] = [];
  private gated = false;
  /** The settle and lease renewal after the last `response.done`, while under way. */
  private renewal?: Promise<void>;
  private cutOff?: CutOff;
  private lastInputTokens = 0;
  private ended = false;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  /** Resolves once both sockets are closed and every row of the session is settled. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly rt: Runtime,
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly ledger: SessionLedger,
    opening: Lease,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.free.push(opening);
    this.toClient = new Pipe(upstream, client);
    this.toUpstream = new Pipe(client, upstream);
    upstream.on('message', (data, isBinary) => this.fromUpstream(asBuffer(data), isBinary));
    client.on('message', (data, isBinary) => this.fromClient(asBuffer(data), isBinary));
    client.on('close', (code, reason) => this.closed('client', code, reason));
    upstream.on('close', (code, reason) => this.closed('upstream', code, reason));
    client.on('error', () => client.terminate());
    upstream.on('error', () => upstream.terminate());
    const maxMs = rt.config.realtime.maxSessionSeconds * 1000;
    this.timer = setTimeout(
      () =>
        this.cut({
          code: 'session_expired',
          message: `Your session hit the maximum duration of ${rt.config.realtime.maxSessionSeconds} seconds allowed by tollgate.`,
          closeCode: 1000,
        }),
      maxMs,
    );
    this.timer.unref();
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

  private fromUpstream(data: Buffer, isBinary: boolean): void {
    this.toClient.send(data, isBinary);
    if (isBinary) return;
    const signal = this.meter.read(data.toString('utf8'));
    if (signal) this.bill(signal);
  }

  private bill(signal: Signal): void {
    this.ledger.upstreamSessionId = this.meter.upstreamSessionId;
    if (signal.kind === 'response.created') {
      const lease = this.free.shift();
      this.claims = Math.max(0, this.claims - 1);
      // A response the upstream started while no lease was free (voice activity right after a
      // refused renewal): admit one now; if none can be had, the session is cut off after it.
      const pending = lease ? Promise.resolve(lease) : this.track(this.leaseLate());
      this.inFlight.set(signal.responseId, { lease: pending, startedAt: performance.now() });
      return;
    }
    if (signal.kind === 'response.done') {
      const flight = this.inFlight.get(signal.responseId);
      this.inFlight.delete(signal.responseId);
      const latencyMs = flight ? Math.round((performance.now() - flight.startedAt) * 1000) / 1000 : 0;
      if (signal.usage) this.lastInputTokens = signal.usage.inputTokens;
      const usage =
        signal.usage ?? estimateCutResponse(this.ledger.facts.model ?? '', this.lastInputTokens, signal.seen);
      const errorCode = signal.status === 'failed' ? (signal.errorCode ?? 'response_failed') : undefined;
      const renewal = this.track(
        (async () => {
          await this.renewal;
          const lease = await flight?.lease;
          await this.ledger.chargeResponse(lease, usage, signal.usage ? 'upstream' : 'estimated', {
            latencyMs,
            errorCode,
          });
          if (!this.cutOff && !this.ended && this.free.length === 0) {
            const renewed = await this.admit();
            if (renewed && 'requestId' in renewed) this.free.push(renewed);
          }
          this.closeIfCut();
        })(),
      );
      this.renewal = renewal;
      void renewal.then(() => {
        if (this.renewal === renewal) this.renewal = undefined;
      });
      return;
    }
    if (signal.usage) {
      // The model comes from the session the upstream confirmed; unknown, the row is flagged model_not_priced.
      const model = signal.model ?? 'unknown-transcription-model';
      this.track(
        this.ledger
          .chargeTranscription(model, signal.usage)
          .then(
            (covered) =>
              covered ||
              this.cut(quotaCut("The grants or a quota could not cover this session's input transcription.")),
          ),
      );
    }
  }

  /** A lease for a response already running without one: the renewal's, once done, else a new one. */
  private async leaseLate(): Promise<Lease | undefined> {
    await this.renewal;
    const free = this.free.shift();
    if (free) return free;
    const result = await this.admit();
    return result && 'requestId' in result ? result : undefined;
  }

  /**
   * Admits a lease; a refusal for money cuts the session off (the error event naming
   * `clientEventId`, the `response.create` that asked). Resolves to the lease, or the refusal.
   */
  private async admit(clientEventId: string | null = null): Promise<Lease | LeaseRefusal | undefined> {
    if (this.ended) return undefined;
    const result = await this.ledger.lease();
    if ('code' in result && result.code === 'insufficient_quota') this.cut(quotaCut(result.message), clientEventId);
    if (this.ended && 'requestId' in result) {
      await this.ledger.release(result, this.elapsed(), this.endCode());
      return undefined;
    }
    return result;
  }

  private fromClient(data: Buffer, isBinary: boolean): void {
    if (this.gated) {
      this.waiting.push({ data, isBinary });
      return;
    }
    this.clientFrame(data, isBinary);
  }

  /** One client frame, in order: forwarded, or — for a `response.create` — admitted first. */
  private clientFrame(data: Buffer, isBinary: boolean): void {
    const create = !isBinary && responseCreate(data);
    if (!create) return this.toUpstream.send(data, isBinary);
    if (this.cutOff) return this.sendError(this.cutOff.code, this.cutOff.message, create.eventId);
    if (this.free.length > this.claims) {
      this.claims++;
      return this.toUpstream.send(data, isBinary);
    }
    // No free lease: wait for the renewal under way, if any, else admit one. The frames that
    // arrive meanwhile (a ledger commit: milliseconds) wait in order behind this one.
    this.gated = true;
    this.track(
      (async () => {
        try {
          await this.renewal;
          if (this.cutOff) return this.sendError(this.cutOff.code, this.cutOff.message, create.eventId);
          const result = this.free.length > this.claims ? this.free[0]! : await this.admit(create.eventId);
          if (result && 'requestId' in result) {
            if (!this.free.includes(result)) this.free.push(result);
            this.claims++;
            this.toUpstream.send(data, isBinary);
          } else if (result?.code === 'rate_limit_exceeded') {
            this.sendError(result.code, result.message, create.eventId);
          }
        } finally {
          this.gated = false;
          while (!this.gated && this.waiting.length) {
            const next = this.waiting.shift()!;
            this.clientFrame(next.data, next.isBinary);
          }
        }
      })(),
    );
  }

  /** Starts a cut-off (once): the error event now, the close once no response is in flight. */
  private cut(c: CutOff, clientEventId: string | null = null): void {
    if (this.cutOff || this.ended) return;
    this.cutOff = c;
    this.rt.log.info({ sessionId: this.ledger.facts.sessionId, code: c.code }, 'realtime session cut off');
    this.sendError(c.code, c.message, clientEventId);
    this.closeIfCut();
  }

  private closeIfCut(): void {
    if (!this.cutOff || this.inFlight.size > 0) return;
    this.client.close(this.cutOff.closeCode, this.cutOff.code);
    this.upstream.close(1000, 'session ended by the proxy');
  }

  /** Sends the client an OpenAI-shaped `error` server event. */
  private sendError(code: string, message: string, clientEventId: string | null): void {
    const type =
      code === 'session_expired'
        ? 'invalid_request_error'
        : code === 'rate_limit_exceeded'
          ? 'requests'
          : 'insufficient_quota';
    const event = {
      type: 'error',
      event_id: `event_tollgate_${++eventSeq}`,
      error: { type, code, message, param: null, event_id: clientEventId },
    };
    this.toClient.send(JSON.stringify(event), false);
  }

  private closed(side: 'client' | 'upstream', code: number, reason: Buffer): void {
    const other = side === 'client' ? this.upstream : this.client;
    other.close(sendable(code) ? code : 1000, reason.byteLength <= 123 ? reason : undefined);
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const normal = code === 1000 || code === 1001;
    this.endReason =
      this.cutOff?.code ?? (normal ? undefined : side === 'client' ? 'client_disconnected' : 'upstream_disconnected');
    this.cutShortCode = this.cutOff?.code ?? (side === 'client' ? 'client_disconnected' : 'upstream_disconnected');
    void this.finish();
  }

  private endReason?: string;
  private cutShortCode = 'client_disconnected';
  private endCode = () => this.endReason;
  private elapsed = () => Math.round((performance.now() - this.startedAt) * 1000) / 1000;

  /** Writes the session's last rows once both sides are gone: responses cut short, unused leases. */
  private async finish(): Promise<void> {
    try {
      while (this.work.size) await Promise.allSettled([...this.work]);
      for (const [id, flight] of this.inFlight) {
        const usage = estimateCutResponse(
          this.ledger.facts.model ?? '',
          this.lastInputTokens,
          this.meter.partialOf(id),
        );
        const latencyMs = Math.round((performance.now() - flight.startedAt) * 1000) / 1000;
        await this.ledger.chargeResponse(await flight.lease, usage, 'estimated', {
          latencyMs,
          errorCode: this.cutShortCode,
        });
      }
      this.inFlight.clear();
      for (const lease of this.free.splice(0)) await this.ledger.release(lease, this.elapsed(), this.endReason);
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

function asBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** The `event_id` of a client `response.create` event (null when it has none); undefined for any other frame. */
function responseCreate(data: Buffer): { eventId: string | null } | undefined {
  if (!data.includes('response.create')) return undefined;
  try {
    const event = JSON.parse(data.toString('utf8')) as { type?: unknown; event_id?: unknown };
    return event.type === 'response.create'
      ? { eventId: typeof event.event_id === 'string' ? event.event_id : null }
      : undefined;
  } catch {
    return undefined;
  }
}
