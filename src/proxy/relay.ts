import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Dispatcher } from 'undici';
import { errorResponse } from '../http/errors.js';
import { BODY_TOO_LARGE, BodyDecoder } from '../metering/decode.js';
import { EVENT_TOO_LARGE, SseFramer, splitEvents } from '../metering/sse.js';
import { meterJsonBody } from '../metering/usage.js';
import type { Runtime } from '../runtime.js';
import type { Admitted } from './admission.js';
import { decide, uploaded, type Ending, type Observed } from './outcome.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { refuseUpstreamAuthFailure, upstreamRefusedOurKey } from './upstream-auth.js';

/**
 * Largest non-streamed body kept in memory for metering (decoded bytes): a larger identity body
 * passes through unmetered; a compressed one that inflates past it is cut (see `BodyDecoder`).
 */
const MAX_METERED_BODY = 64 * 1024 * 1024;

/** The request as the relay needs it: method, path and query, the client's headers, and Node's response to write. */
export interface ClientRequest {
  method: Dispatcher.HttpMethod;
  pathAndQuery: string;
  headers: IncomingHttpHeaders;
  /** Where the answer is written, straight from the upstream's body: no web-stream conversion. */
  outgoing: ServerResponse;
}

function errorCodeOfBody(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; type?: unknown } }).error;
    const code = e?.code ?? e?.type;
    return code == null ? undefined : String(code);
  } catch {
    return undefined;
  }
}

const header = (h: Dispatcher.ResponseData['headers'], name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Forwards a request upstream and writes the response back to the client as it arrives, metering
 * it on the way, then settles (or voids) the request's ledger row exactly once (see `decide` for
 * what is charged). Returns hono's RESPONSE_ALREADY_SENT once the response has been written, or an
 * OpenAI-shaped error when the upstream gave no response.
 *
 * - JSON bodies pass through byte-for-byte (encoding and `content-length` kept); a copy is decoded
 *   and metered after the last byte is sent.
 * - SSE bodies are passed on in whole events as they complete, each metered on the way, rewritten
 *   only when tollgate added `include_usage` (see `chatStreamMeter`).
 * - The client leaving aborts the upstream request; an upstream that breaks off or stalls past
 *   `upstream.timeouts.idleMs` ends an SSE stream with a final error event.
 * - Back-pressure: a slow client pauses the reading of the upstream's body.
 */
export async function relay(rt: Runtime, req: ClientRequest, admitted: Admitted, started: number): Promise<Response> {
  const { requestId, body } = admitted;
  const { outgoing } = req;
  const abort = new AbortController();
  const onClientGone = () => {
    if (!outgoing.writableFinished) abort.abort(new Error('client disconnected'));
  };
  outgoing.once('close', onClientGone);
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;

  /**
   * Settles or voids the row once, then counts it and fires alerts. Except for uploads (whose form
   * may still be being read), the ledger write is queued synchronously, before the response's last
   * bytes are written: a client's next request is admitted after it (the ledger applies calls in order).
   */
  const record = async (seen: Observed): Promise<void> => {
    const upload = admitted.multipart ? await uploaded(admitted.multipart) : undefined;
    const decision = decide(rt, admitted, seen, upload);
    const now = rt.clock();
    const outcome = 'settle' in decision ? decision.settle : decision.void;
    const settled = await ('settle' in decision ? rt.ledger.settle(requestId, outcome, now) : rt.ledger.void(requestId, outcome, now));
    rt.metrics?.finished(admitted, req.pathAndQuery, outcome.httpStatus, outcome);
    if (typeof settled === 'object' && outcome.meteredTokens + outcome.costMicroUsd > 0) {
      const { principal, quotas } = admitted;
      const subject = principal.userId !== null ? `${principal.companyId}/${principal.userId}` : `key:${principal.keyId}`;
      rt.alerts.afterSettle({ companyId: principal.companyId, subject, quotas, settled, tokens: outcome.meteredTokens });
    }
    rt.log.info({ requestId, clientRequestId: admitted.principal.clientRequestId ?? undefined, status: seen.httpStatus, usage: outcome.usageSource, tokens: outcome.meteredTokens, costMicroUsd: outcome.costMicroUsd, latencyMs: seen.latencyMs, errorCode: outcome.errorCode }, 'request finished');
  };
  const settleLater = (seen: Observed) => {
    record(seen).catch((err: unknown) => rt.log.error({ err, requestId }, 'could not record the request; its hold stays open until the next start'));
  };

  const upstreamHeaders = upstreamRequestHeaders(req.headers, rt.upstream.apiKey, admitted.stream || admitted.ownership?.rewrite !== undefined);
  // OpenAI records X-Client-Request-Id with the request (openai-openapi, "Debugging requests"): the
  // ledger row and the upstream's logs then share an id (a caller's own is kept on the row).
  upstreamHeaders['x-client-request-id'] = requestId;
  const length = req.headers['content-length'];
  if (body instanceof Readable && length) upstreamHeaders['content-length'] = length;
  const sentAt = performance.now();
  let res: Dispatcher.ResponseData;
  try {
    res = await rt.upstream.request({ method: req.method, pathAndQuery: req.pathAndQuery, headers: upstreamHeaders, body, signal: abort.signal });
  } catch (err) {
    outgoing.off('close', onClientGone);
    // The client leaving mid-body fails the upload stream: that is the client's doing, not the upstream's.
    const bodyCut = body instanceof Readable && body.readableAborted;
    const code = abort.signal.aborted || bodyCut ? 'client_disconnected' : (timeoutCode(err) ?? 'upstream_unreachable');
    const status = code === 'client_disconnected' ? 400 : code === 'upstream_timeout' ? 504 : 502;
    rt.metrics?.upstream(req.pathAndQuery, performance.now() - sentAt);
    await record({ httpStatus: abort.signal.aborted ? 0 : status, ending: 'complete', metered: {}, errorCode: code, latencyMs: elapsed() });
    if (code === 'client_disconnected') {
      rt.log.info({ requestId, err: (err as Error).message }, 'client left before its request was sent upstream');
      return errorResponse(400, { message: 'The request body was cut off before it was complete.', type: 'invalid_request_error', param: null, code }, { 'x-tollgate-request-id': requestId });
    }
    rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream request failed');
    return errorResponse(status, { message: `tollgate could not get a response from the upstream API: ${(err as Error).message}`, type: 'api_error', param: null, code }, { 'x-tollgate-request-id': requestId });
  }
  rt.metrics?.upstream(req.pathAndQuery, performance.now() - sentAt);
  if (upstreamRefusedOurKey(res.statusCode)) {
    outgoing.off('close', onClientGone);
    return refuseUpstreamAuthFailure(rt, requestId, req.pathAndQuery, res, (errorCode: string) => record({ httpStatus: 502, ending: 'complete', metered: {}, errorCode, latencyMs: elapsed(), upstreamRequestId: header(res.headers, 'x-request-id') }));
  }

  const isSse = (header(res.headers, 'content-type') ?? '').startsWith('text/event-stream');
  const hideUsage = isSse && admitted.hideUsage;
  const meter = isSse ? admitted.endpoint?.streamMeter?.(hideUsage) : undefined;
  const keepBody = !isSse && (admitted.endpoint !== undefined || (admitted.ownership !== undefined && /^application\/json\s*(;|$)/i.test(header(res.headers, 'content-type') ?? '')));
  // A list of owned objects is filtered before the client sees it: held back whole, then rewritten.
  const rewrite = !isSse && res.statusCode < 300 ? admitted.ownership?.rewrite : undefined;
  let watchEvents = isSse && res.statusCode < 300 && admitted.ownership?.observeEvent !== undefined;
  const encoding = header(res.headers, 'content-encoding');
  const upstreamRequestId = header(res.headers, 'x-request-id');
  const headers = clientResponseHeaders(res.headers, hideUsage);
  headers['x-tollgate-request-id'] = requestId;
  Object.assign(headers, admitted.headers);

  const framer = new SseFramer();
  const decoder = keepBody ? new BodyDecoder(encoding, MAX_METERED_BODY) : undefined;
  let ttfbMs: number | undefined;

  /** Reads what the response held and hands it to `record`. */
  const finish = (ending: Ending, text?: string) => {
    outgoing.off('close', onClientGone);
    let metered: Observed['metered'] = {};
    if (meter) metered = meter.result();
    else if (text !== undefined) metered = meterJsonBody(text, admitted.endpoint?.output);
    const errorCode = metered.errorCode ?? (res.statusCode >= 400 ? errorCodeOfBody(text) : undefined);
    if (text !== undefined && res.statusCode < 300) admitted.ownership?.observe?.(text, requestId);
    settleLater({ httpStatus: res.statusCode, ending, metered, errorCode, latencyMs: elapsed(), ttfbMs, upstreamRequestId });
  };

  /** Meters whole events; returns what the client gets: the same bytes, or the rewritten events. */
  const meterEvents = (whole: Buffer): Buffer | undefined => {
    const events = splitEvents(whole.toString('utf8'));
    if (watchEvents) watchEvents = !events.some((e) => admitted.ownership!.observeEvent!(e, requestId));
    if (!hideUsage) {
      for (const e of events) meter!.event(e);
      return whole;
    }
    let out = '';
    for (const e of events) out += meter!.event(e) ?? '';
    return out ? Buffer.from(out) : undefined;
  };

  const forward = (chunk: Buffer): Buffer | undefined => {
    if (!meter) return chunk;
    const whole = framer.push(chunk);
    return whole && meterEvents(whole);
  };

  if (!rewrite) outgoing.writeHead(res.statusCode, headers);
  if (isSse) outgoing.flushHeaders();
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      ttfbMs ??= elapsed();
      if (decoder) {
        await decoder.push(chunk);
        if (decoder.overflowed) throw tooLarge();
      }
      const out = forward(chunk);
      if (out && !rewrite && !outgoing.write(out)) await drained(outgoing);
      if (abort.signal.aborted) throw new Error('client disconnected');
    }
    const rest = meter && framer.rest();
    const out = rest && meterEvents(rest);
    const text = await decoder?.end();
    if (decoder?.overflowed) throw tooLarge();
    finish('complete', text);
    if (rewrite) {
      const filtered = await rewrite(text ?? '', requestId);
      delete headers['content-encoding'];
      headers['content-length'] = Buffer.byteLength(filtered);
      outgoing.writeHead(res.statusCode, headers).end(filtered);
    } else {
      outgoing.end(out || undefined);
    }
  } catch (err) {
    decoder?.abandon();
    if (abort.signal.aborted || outgoing.destroyed) {
      abort.abort();
      finish('client_disconnected');
    } else {
      const code = timeoutCode(err) ?? cutCode(err) ?? 'upstream_stream_error';
      if (code !== 'upstream_stream_error' && code !== 'upstream_timeout') abort.abort();
      rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream stream broke');
      finish(code);
      if (isSse) {
        const error = { message: `The upstream stream broke off: ${(err as Error).message}`, type: 'server_error', param: null, code };
        outgoing.end(`data: ${JSON.stringify({ error })}\n\n`);
      } else {
        outgoing.destroy(err as Error);
      }
    }
  }
  return RESPONSE_ALREADY_SENT;
}

/** The code of an error tollgate raised to cut a response (a body or an event past its bound). */
function cutCode(err: unknown): 'upstream_body_too_large' | 'upstream_event_too_large' | undefined {
  const code = (err as { code?: string }).code;
  return code === BODY_TOO_LARGE || code === EVENT_TOO_LARGE ? code : undefined;
}

/** The error that cuts a response whose decoded body passed `MAX_METERED_BODY`. */
const tooLarge = () => Object.assign(new Error(`the upstream response decodes to more than ${MAX_METERED_BODY} bytes`), { code: BODY_TOO_LARGE });

/** Resolves when `out` can take more data again, or has closed. */
function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/** `upstream_timeout` for undici's connect, headers (first byte) and body (idle) timeouts. */
function timeoutCode(err: unknown): 'upstream_timeout' | undefined {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'upstream_timeout' : undefined;
}
