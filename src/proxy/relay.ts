import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { invalidRequest } from '../http/denial.js';
import { toOpenAIError } from '../http/openai-error.js';
import { answer } from '../http/respond.js';
import { BODY_TOO_LARGE } from '../metering/decode.js';
import { EVENT_TOO_LARGE } from '../metering/sse.js';
import type { Runtime } from '../runtime.js';
import { UpstreamAbort } from './abort.js';
import type { Admitted } from './admission.js';
import { record, settleLater, type FinishDeps } from './finish.js';
import { firstHeader, requestHeadersFor, responseHeadersFor } from './headers.js';
import { MeterTap } from './meter-tap.js';
import type { Ending } from './outcome.js';
import { send, timeoutCode } from './send.js';
import { Tail } from './tail.js';
import { refuseUpstreamAuthFailure, upstreamRefusedOurKey } from './upstream-auth.js';

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
export async function relay(rt: RelayDeps, req: ClientRequest, admitted: Admitted, started: number): Promise<void> {
  const { requestId, body } = admitted;
  const { outgoing } = req;
  const abort = new UpstreamAbort();
  const onClientGone = () => {
    if (!outgoing.writableFinished) abort.abort(new Error('client disconnected'));
  };
  outgoing.once('close', onClientGone);
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;

  const ownership = admitted.ownership;
  // A list filtered by ownership is read as text: ask for it unencoded.
  const headers = requestHeadersFor(req.headers, rt.upstream.apiKey, {
    requestId,
    stream: admitted.stream || ownership?.rewrite !== undefined,
    streamsBody: body instanceof Readable,
  });
  const sentAt = performance.now();
  const sent = await send(
    rt.upstream,
    {
      method: req.method,
      pathAndQuery: req.pathAndQuery,
      headers,
      body,
      // From its first byte the upstream may have the request: a crash then charges it by the crash policy.
      onSent: () => rt.ledger.forwarded(requestId),
    },
    abort,
  );
  rt.metrics?.upstream(req.pathAndQuery, performance.now() - sentAt);
  if (!('res' in sent)) {
    outgoing.off('close', onClientGone);
    // The client leaving mid-body fails the upload stream: that is the client's doing, not the upstream's.
    const bodyCut = body instanceof Readable && body.readableAborted;
    const code = bodyCut ? 'client_disconnected' : sent.denial.code;
    await record(rt, admitted, req.pathAndQuery, {
      httpStatus: bodyCut ? 400 : sent.httpStatus,
      ending: 'complete',
      metered: {},
      errorCode: code,
      latencyMs: elapsed(),
    });
    if (bodyCut) {
      rt.log.info({ requestId, err: sent.denial.message }, 'client left before its request was sent upstream');
      return answer(
        outgoing,
        toOpenAIError(
          invalidRequest('The request body was cut off before it was complete.', null, 'client_disconnected'),
        ),
        requestId,
      );
    }
    rt.log.warn({ requestId, err: sent.denial.message, code }, 'upstream request failed');
    return answer(outgoing, toOpenAIError(sent.denial), requestId);
  }
  const { res } = sent;
  const upstreamRequestId = firstHeader(res.headers, 'x-request-id');
  if (upstreamRefusedOurKey(res.statusCode)) {
    outgoing.off('close', onClientGone);
    const refusal = await refuseUpstreamAuthFailure(rt, requestId, req.pathAndQuery, res, (errorCode) =>
      record(rt, admitted, req.pathAndQuery, {
        httpStatus: 502,
        ending: 'complete',
        metered: {},
        errorCode,
        latencyMs: elapsed(),
        upstreamRequestId,
      }),
    );
    return answer(outgoing, refusal, requestId);
  }

  const out = responseHeadersFor(res.headers, admitted);
  const ok = res.statusCode < 300;
  const ownedJson =
    ownership !== undefined && /^application\/json\s*(;|$)/i.test(firstHeader(res.headers, 'content-type') ?? '');
  // A list of owned objects is filtered before the client sees it: held back whole, then rewritten.
  const rewrite = !out.isSse && ok ? ownership?.rewrite : undefined;
  let watchEvents = out.isSse && ok && ownership?.observeEvent !== undefined;
  const tap = new MeterTap(
    {
      meter: out.isSse ? admitted.endpoint?.streamMeter?.(out.hideUsage) : undefined,
      hideUsage: out.hideUsage,
      keepBody: !out.isSse && (admitted.endpoint !== undefined || ownedJson),
      encoding: firstHeader(res.headers, 'content-encoding'),
      output: admitted.endpoint?.output,
    },
    (events) => {
      if (watchEvents) watchEvents = !events.some((e) => ownership!.observeEvent!(e, requestId));
    },
  );
  let ttfbMs: number | undefined;
  /** Settles (or voids) the row; resolves once that is durable, never rejects. */
  const finish = (ending: Ending): Promise<void> => {
    outgoing.off('close', onClientGone);
    if (tap.text !== undefined && ok) ownership?.observe?.(tap.text, requestId);
    return settleLater(rt, admitted, req.pathAndQuery, {
      httpStatus: res.statusCode,
      ending,
      ...tap.observed(res.statusCode),
      latencyMs: elapsed(),
      ttfbMs,
      upstreamRequestId,
    });
  };

  if (!rewrite) outgoing.writeHead(res.statusCode, out.headers);
  if (out.isSse) outgoing.flushHeaders();
  // The end of a response reaches the client only once its settle is durable: a crash after the
  // client has it all cannot lose the real usage. Held back: the end of the body (a chunked
  // body's last byte); the chunk that completes a body of known length; in an SSE stream, from
  // the event carrying its usage on, the last chunk (`data: [DONE]`, which ends an SDK's stream).
  const length = out.isSse ? undefined : Number(firstHeader(res.headers, 'content-length') ?? Number.NaN);
  const tail = new Tail(outgoing, Number.isSafeInteger(length) ? length : undefined);
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      ttfbMs ??= elapsed();
      await tap.decode(chunk);
      const bytes = tap.push(chunk);
      if (bytes && !rewrite) {
        if (out.isSse ? tap.sawUsage : tail.completes(bytes)) await tail.hold(bytes);
        else await tail.write(bytes);
      }
      if (abort.aborted) throw new Error('client disconnected');
    }
    const rest = tap.end();
    const text = await tap.endBody();
    await finish('complete');
    if (rewrite) {
      const filtered = await rewrite(text ?? '', requestId);
      delete out.headers['content-encoding'];
      out.headers['content-length'] = Buffer.byteLength(filtered);
      outgoing.writeHead(res.statusCode, out.headers).end(filtered);
    } else {
      tail.end(rest);
    }
  } catch (err) {
    tap.abandon();
    if (abort.aborted || outgoing.destroyed) {
      abort.abort();
      void finish('client_disconnected');
    } else {
      const code = timeoutCode(err) ?? cutCode(err) ?? 'upstream_stream_error';
      // tollgate cut the response (a bound passed): stop reading the upstream too.
      if (code !== 'upstream_stream_error' && code !== 'upstream_timeout') abort.abort();
      rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream stream broke');
      void finish(code);
      if (out.isSse) {
        tail.release();
        const error = {
          message: `The upstream stream broke off: ${(err as Error).message}`,
          type: 'server_error',
          param: null,
          code,
        };
        outgoing.end(`data: ${JSON.stringify({ error })}\n\n`);
      } else {
        outgoing.destroy(err as Error);
      }
    }
  }
}

/** The code of an error tollgate raised to cut a response (a body or an event past its bound). */
function cutCode(err: unknown): 'upstream_body_too_large' | 'upstream_event_too_large' | undefined {
  const code = (err as { code?: string }).code;
  return code === BODY_TOO_LARGE || code === EVENT_TOO_LARGE ? code : undefined;
}
