import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { invalidRequest } from '../http/denial.js';
import { toOpenAIError } from '../http/openai-error.js';
import { answer } from '../http/respond.js';
import { BODY_TOO_LARGE } from '../metering/decode.js';
import { EVENT_TOO_LARGE } from '../metering/sse.js';
import type { Runtime } from '../runtime.js';
import type { Admitted } from './admission.js';
import { record, settleLater, type FinishDeps } from './finish.js';
import { firstHeader, requestHeadersFor, responseHeadersFor } from './headers.js';
import { MeterTap } from './meter-tap.js';
import type { Ending } from './outcome.js';
import { sendFailure, timeoutCode } from './send.js';
import { Tail } from './tail.js';
import { UpstreamAuthFailure } from './upstream-auth.js';

/** The request as the relay needs it: method, path and query, the client's headers, and Node's response to write. */
export interface ClientRequest {
  method: Dispatcher.HttpMethod;
  pathAndQuery: string;
  headers: IncomingHttpHeaders;
  /** Where the answer is written, straight from the upstream's body: no web-stream conversion. */
  outgoing: ServerResponse;
}

/** What the relay uses: the upstream pool, and what the finish pass needs. */
export type RelayDeps = FinishDeps & Pick<Runtime, 'upstream'>;

/**
 * Forwards a request upstream and writes the response back to the client as it arrives, metering
 * it on the way, then settles (or voids) the request's ledger row exactly once (see `decide` for
 * what is charged). Resolves once the response has been written: the upstream's, or an
 * OpenAI-shaped error when the upstream gave no response. The passes, in order: request headers →
 * send → response headers → meter tap (each chunk) → finish.
 *
 * - JSON bodies pass through byte-for-byte (encoding and `content-length` kept); a copy is decoded
 *   and metered after the last byte is sent.
 * - SSE bodies are passed on in whole events as they complete, each metered on the way, rewritten
 *   only when tollgate added `include_usage` (see `chatStreamMeter`).
 * - The client leaving aborts the upstream request; an upstream that breaks off or stalls past
 *   `upstream.timeouts.idleMs` ends an SSE stream with a final error event.
 * - Back-pressure: a slow client pauses the reading of the upstream's body.
 */
export function relay(rt: RelayDeps, req: ClientRequest, admitted: Admitted, started: number): Promise<void> {
  return new Promise((resolve) => new Exchange(rt, req, admitted, started, resolve).send());
}

/** The passes of a response being relayed, set up when its headers arrive. */
interface Passes {
  status: number;
  /** Filters a list of owned objects before the client sees it: held back whole, then rewritten. */
  rewrite?: (text: string, requestId: string) => Promise<string>;
  headers: OutgoingHttpHeaders;
  isSse: boolean;
  tap: MeterTap;
  tail: Tail;
}

/**
 * One request's exchange with the upstream, driven by undici's events (`Upstream.dispatch`): no
 * stream or promise sits between the upstream's socket and the client's, except while a compressed
 * body inflates. Chunks are taken in order: while one is being inflated, or the client cannot take
 * more, the upstream's body is paused and later chunks wait in `waiting`.
 *
 * Every object it makes has one shape whatever the request (no spreads, no `AbortController`): on
 * Node 20 each spread of a fresh object or new AbortSignal gets hidden classes of its own, which
 * end up as old-generation garbage and major GCs at 1,000 RPS (bench/profile/tail.ts).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  /** The client left before its response was complete. */
  private clientGone = false;
  /** The exchange is over for the relay (finished, failed, or answered): later events are ignored. */
  private over = false;
  private sentAt = 0;
  private upstreamRequestId: string | undefined = undefined;
  private authFailure: UpstreamAuthFailure | null = null;
  private passes: Passes | null = null;
  private ttfbMs: number | undefined = undefined;
  /** Chunks received while an earlier one is still being taken. */
  private waiting: Buffer[] = [];
  private busy = false;
  /** The client's buffer is full: the upstream stays paused until its 'drain'. */
  private draining = false;
  private ended = false;
  private readonly onClientClose = () => {
    if (this.req.outgoing.writableFinished) return;
    this.clientGone = true;
    this.controller?.abort(new Error('client disconnected'));
  };
  private readonly onDrain = () => {
    this.draining = false;
    if (!this.busy) this.controller?.resume();
  };

  constructor(
    private readonly rt: RelayDeps,
    private readonly req: ClientRequest,
    private readonly admitted: Admitted,
    private readonly started: number,
    private readonly resolve: () => void,
  ) {}

  send(): void {
    const { admitted, req } = this;
    this.req.outgoing.once('close', this.onClientClose);
    // A list filtered by ownership is read as text: ask for it unencoded.
    const headers = requestHeadersFor(req.headers, this.rt.upstream.apiKey, {
      requestId: admitted.requestId,
      stream: admitted.stream || admitted.ownership?.rewrite !== undefined,
      streamsBody: admitted.body instanceof Readable,
    });
    this.sentAt = performance.now();
    this.rt.upstream.dispatch(
      { method: req.method, pathAndQuery: req.pathAndQuery, headers, body: admitted.body },
      this,
    );
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 1000) / 1000;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) return controller.abort(new Error('client disconnected'));
    // From its first byte the upstream may have the request: a crash then charges it by the crash
    // policy, on its prompt (counted with the mark when admission did not need to).
    const prompt = this.admitted.prompt;
    this.rt.ledger.forwarded(this.admitted.requestId, prompt && !prompt.known ? prompt : undefined);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    const { rt, admitted, req } = this;
    rt.metrics?.upstream(req.pathAndQuery, performance.now() - this.sentAt);
    this.upstreamRequestId = firstHeader(headers, 'x-request-id');
    if (UpstreamAuthFailure.is(status)) {
      this.authFailure = new UpstreamAuthFailure(status);
      return;
    }
    const ownership = admitted.ownership;
    const out = responseHeadersFor(headers, admitted);
    const ok = status < 300;
    const ownedJson =
      ownership !== undefined && /^application\/json\s*(;|$)/i.test(firstHeader(headers, 'content-type') ?? '');
    let watchEvents = out.isSse && ok && ownership?.observeEvent !== undefined;
    const tap = new MeterTap(
      {
        meter: out.isSse ? admitted.endpoint?.streamMeter?.(out.hideUsage) : undefined,
        hideUsage: out.hideUsage,
        keepBody: !out.isSse && (admitted.endpoint !== undefined || ownedJson),
        encoding: firstHeader(headers, 'content-encoding'),
        output: admitted.endpoint?.output,
      },
      watchEvents
        ? (events) => {
            if (watchEvents) watchEvents = !events.some((e) => ownership!.observeEvent!(e, admitted.requestId));
          }
        : undefined,
    );
    // The end of a response reaches the client only once its settle is durable: a crash after the
    // client has it all cannot lose the real usage. Held back: the end of the body (a chunked
    // body's last byte); the chunk that completes a body of known length; in an SSE stream, from
    // the event carrying its usage on, the last chunk (`data: [DONE]`, which ends an SDK's stream).
    const length = out.isSse ? undefined : Number(firstHeader(headers, 'content-length') ?? Number.NaN);
    const tail = new Tail(req.outgoing, Number.isSafeInteger(length) ? length : undefined);
    const rewrite = !out.isSse && ok ? ownership?.rewrite : undefined;
    this.passes = { status, rewrite, headers: out.headers, isSse: out.isSse, tap, tail };
    if (!rewrite) req.outgoing.writeHead(status, out.headers);
    if (out.isSse) req.outgoing.flushHeaders();
    if (this.clientGone) controller.abort(new Error('client disconnected'));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.over) return;
    if (this.authFailure) {
      if (this.authFailure.read(chunk)) controller.abort(new Error('upstream auth failure read'));
      return;
    }
    this.ttfbMs ??= this.elapsed();
    if (this.busy) {
      this.waiting.push(chunk);
      controller.pause();
      return;
    }
    this.take(chunk);
  }

  onResponseEnd(): void {
    if (this.over) return;
    if (this.authFailure) return void this.refuseAuthFailure();
    this.ended = true;
    if (!this.busy) void this.complete();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.over) return;
    if (this.authFailure) return void this.refuseAuthFailure();
    if (!this.passes) return void this.noResponse(err);
    this.fail(err);
  }

  /** Takes one chunk: decodes a kept body's copy (inflating it may take a while), then passes it on. */
  private take(chunk: Buffer): void {
    let inflating: Promise<void> | undefined;
    try {
      inflating = this.passes!.tap.decode(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (!inflating) return this.pass(chunk);
    this.busy = true;
    this.controller?.pause();
    inflating.then(
      () => {
        this.busy = false;
        this.pass(chunk);
        this.next();
      },
      (err: Error) => this.fail(err),
    );
  }

  /** Takes the chunks that waited, then ends the body if it ended meanwhile, else reads on. */
  private next(): void {
    while (!this.over && !this.busy && this.waiting.length) this.take(this.waiting.shift()!);
    if (this.over || this.busy) return;
    if (this.ended) void this.complete();
    else if (!this.draining) this.controller?.resume();
  }

  /** Passes a decoded chunk on to the client (held back at the end, see `Tail`); pauses the upstream when the client is full. */
  private pass(chunk: Buffer): void {
    if (this.over) return;
    const { tap, tail, isSse, rewrite } = this.passes!;
    let bytes: Buffer | undefined;
    try {
      bytes = tap.push(chunk);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (!bytes || rewrite) return;
    const more = (isSse ? tap.sawUsage : tail.completes(bytes)) ? tail.hold(bytes) : tail.write(bytes);
    if (!more && !this.draining) {
      this.draining = true;
      this.controller?.pause();
      this.req.outgoing.once('drain', this.onDrain);
    }
  }

  /** The body ended: meters it, settles durably, then writes the end (or the rewritten list). */
  private async complete(): Promise<void> {
    if (this.over) return;
    this.over = true;
    const { tap, tail, rewrite, status, headers } = this.passes!;
    const { outgoing } = this.req;
    try {
      const rest = tap.end();
      const text = await tap.endBody();
      await this.finish('complete');
      if (rewrite) {
        const filtered = await rewrite(text ?? '', this.admitted.requestId);
        delete headers['content-encoding'];
        headers['content-length'] = Buffer.byteLength(filtered);
        outgoing.writeHead(status, headers).end(filtered);
      } else {
        tail.end(rest);
      }
    } catch (err) {
      this.over = false;
      return this.fail(err as Error);
    }
    this.resolve();
  }

  /** Settles (or voids) the row; resolves once that is durable, never rejects. */
  private finish(ending: Ending): Promise<void> {
    const { rt, admitted, req } = this;
    req.outgoing.off('close', this.onClientClose);
    const { tap, status } = this.passes!;
    if (tap.text !== undefined && status < 300) admitted.ownership?.observe?.(tap.text, admitted.requestId, tap.json());
    const seen = tap.observed(status);
    return settleLater(rt, admitted, req.pathAndQuery, {
      httpStatus: status,
      ending,
      metered: seen.metered,
      errorCode: seen.errorCode,
      latencyMs: this.elapsed(),
      ttfbMs: this.ttfbMs,
      upstreamRequestId: this.upstreamRequestId,
    });
  }

  /** The response broke off (the upstream, a bound tollgate enforces, or the client leaving): settles and ends it. */
  private fail(err: Error): void {
    if (this.over) return;
    this.over = true;
    const { rt, admitted, req } = this;
    const { outgoing } = req;
    const { tap, tail, isSse } = this.passes!;
    tap.abandon();
    if (this.clientGone || outgoing.destroyed) {
      this.controller?.abort(new Error('client disconnected'));
      void this.finish('client_disconnected');
    } else {
      const code = timeoutCode(err) ?? cutCode(err) ?? 'upstream_stream_error';
      // tollgate cut the response (a bound passed): stop reading the upstream too.
      if (code !== 'upstream_stream_error' && code !== 'upstream_timeout') this.controller?.abort(err);
      rt.log.warn({ requestId: admitted.requestId, err: err.message, code }, 'upstream stream broke');
      void this.finish(code);
      if (isSse) {
        tail.release();
        const error = {
          message: `The upstream stream broke off: ${err.message}`,
          type: 'server_error',
          param: null,
          code,
        };
        outgoing.end(`data: ${JSON.stringify({ error })}\n\n`);
      } else {
        outgoing.destroy(err);
      }
    }
    this.resolve();
  }

  /** The upstream gave no response (unreachable, timed out, or the client left first): records the row and answers the error. */
  private async noResponse(err: Error): Promise<void> {
    this.over = true;
    const { rt, admitted, req } = this;
    const { requestId, body } = admitted;
    req.outgoing.off('close', this.onClientClose);
    const sent = sendFailure(err, this.clientGone);
    // The client leaving mid-body fails the upload stream: that is the client's doing, not the upstream's.
    const bodyCut = body instanceof Readable && body.readableAborted;
    const code = bodyCut ? 'client_disconnected' : sent.denial.code;
    await record(rt, admitted, req.pathAndQuery, {
      httpStatus: bodyCut ? 400 : sent.httpStatus,
      ending: 'complete',
      metered: {},
      errorCode: code,
      latencyMs: this.elapsed(),
    }).catch((e: unknown) => rt.log.error({ err: e, requestId }, 'could not record the request'));
    if (bodyCut) {
      rt.log.info({ requestId, err: sent.denial.message }, 'client left before its request was sent upstream');
      const cut = invalidRequest('The request body was cut off before it was complete.', null, 'client_disconnected');
      answer(req.outgoing, toOpenAIError(cut), requestId);
    } else {
      rt.log.warn({ requestId, err: sent.denial.message, code }, 'upstream request failed');
      answer(req.outgoing, toOpenAIError(sent.denial), requestId);
    }
    this.resolve();
  }

  /** The upstream refused tollgate's key: records the row and answers 502, never its answer (see `UpstreamAuthFailure`). */
  private async refuseAuthFailure(): Promise<void> {
    this.over = true;
    const { rt, admitted, req } = this;
    req.outgoing.off('close', this.onClientClose);
    const refusal = await this.authFailure!.refuse(rt, admitted.requestId, req.pathAndQuery, (errorCode) =>
      record(rt, admitted, req.pathAndQuery, {
        httpStatus: 502,
        ending: 'complete',
        metered: {},
        errorCode,
        latencyMs: this.elapsed(),
        upstreamRequestId: this.upstreamRequestId,
      }),
    );
    answer(req.outgoing, refusal, admitted.requestId);
    this.resolve();
  }
}

/** The code of an error tollgate raised to cut a response (a body or an event past its bound). */
function cutCode(err: unknown): 'upstream_body_too_large' | 'upstream_event_too_large' | undefined {
  const code = (err as { code?: string }).code;
  return code === BODY_TOO_LARGE || code === EVENT_TOO_LARGE ? code : undefined;
}
