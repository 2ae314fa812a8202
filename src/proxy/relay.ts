import { performance } from 'node:perf_hooks';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { errorResponse } from '../http/errors.js';
import { SseFramer, splitEvents } from '../metering/sse.js';
import { meterJsonBody } from '../metering/usage.js';
import type { Runtime } from '../runtime.js';
import type { Admitted } from './admission.js';
import { decide, type Ending, type Observed } from './outcome.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';

/** Largest non-streamed body kept in memory for metering (bytes); larger bodies pass through unmetered. */
const MAX_METERED_BODY = 64 * 1024 * 1024;

/** The request as the relay needs it: method, path and query, the client's headers. */
export interface ClientRequest {
  method: Dispatcher.HttpMethod;
  pathAndQuery: string;
  headers: Headers;
  /** Aborts when the client goes away before the response has started. */
  signal: AbortSignal;
}

const decoders: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, 'x-gzip': gunzipSync, deflate: inflateSync, br: brotliDecompressSync };

function decodeBody(chunks: Buffer[], encoding: string | undefined): string | undefined {
  const raw = Buffer.concat(chunks);
  if (!encoding || encoding === 'identity') return raw.toString('utf8');
  const decode = decoders[encoding.trim().toLowerCase()];
  try {
    return decode ? decode(raw).toString('utf8') : undefined;
  } catch {
    return undefined;
  }
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
 * Forwards a request upstream and streams the response back as it arrives, metering it on the
 * way, then settles (or voids) the request's ledger row exactly once (see `decide` for what is
 * charged).
 *
 * - JSON bodies pass through byte-for-byte (encoding and `content-length` kept); a copy is decoded
 *   and metered after the last byte is sent.
 * - SSE bodies are split into events; each event is metered and sent on as soon as it is complete,
 *   rewritten only when tollgate added `include_usage` (see `chatStreamMeter`).
 * - The client leaving aborts the upstream request; an upstream that breaks off or stalls past
 *   `upstream.timeouts.idleMs` ends an SSE stream with a final error event.
 */
export async function relay(rt: Runtime, req: ClientRequest, admitted: Admitted, started: number): Promise<Response> {
  const { requestId, body } = admitted;
  const abort = new AbortController();
  const onClientAbort = () => abort.abort(new Error('client disconnected'));
  req.signal.addEventListener('abort', onClientAbort, { once: true });
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;

  /** Settles or voids the row once, then counts it and fires alerts, all off the response's path. */
  const record = async (seen: Observed): Promise<void> => {
    const decision = await decide(rt, admitted, seen);
    const now = rt.clock();
    const outcome = 'settle' in decision ? decision.settle : decision.void;
    const settled = await rt.ledgerQueue.run(() => ('settle' in decision ? rt.ledger.settle(requestId, outcome, now) : rt.ledger.void(requestId, outcome, now)));
    rt.metrics?.finished(requestId, admitted, req.pathAndQuery, outcome.httpStatus, outcome);
    if (typeof settled === 'object' && outcome.meteredTokens + outcome.costMicroUsd > 0) {
      const { principal, quotas } = admitted;
      const subject = principal.userId !== null ? `${principal.companyId}/${principal.userId}` : `key:${principal.keyId}`;
      rt.alerts.afterSettle({ companyId: principal.companyId, subject, quotas, settled, tokens: outcome.meteredTokens });
    }
    rt.log.info({ requestId, status: seen.httpStatus, usage: outcome.usageSource, tokens: outcome.meteredTokens, costMicroUsd: outcome.costMicroUsd, latencyMs: seen.latencyMs, errorCode: outcome.errorCode }, 'request finished');
  };
  const settleLater = (seen: Observed) => {
    record(seen).catch((err: unknown) => rt.log.error({ err, requestId }, 'could not record the request; its hold stays open until the next start'));
  };

  const upstreamHeaders = upstreamRequestHeaders(req.headers, rt.upstream.apiKey, admitted.stream);
  // OpenAI records X-Client-Request-Id with the request (openai-openapi, "Debugging requests"): the
  // ledger row and the upstream's logs then share an id, unless the client sent its own.
  upstreamHeaders['x-client-request-id'] ??= requestId;
  const length = req.headers.get('content-length');
  if (body instanceof ReadableStream && length) upstreamHeaders['content-length'] = length;
  let res: Dispatcher.ResponseData;
  try {
    res = await rt.upstream.request({ method: req.method, pathAndQuery: req.pathAndQuery, headers: upstreamHeaders, body, signal: abort.signal });
  } catch (err) {
    req.signal.removeEventListener('abort', onClientAbort);
    const code = abort.signal.aborted ? 'client_disconnected' : timeoutCode(err) ?? 'upstream_unreachable';
    const status = code === 'upstream_timeout' ? 504 : 502;
    await record({ httpStatus: abort.signal.aborted ? 0 : status, ending: 'complete', metered: {}, errorCode: code, latencyMs: elapsed() });
    rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream request failed');
    return errorResponse(status, { message: `tollgate could not get a response from the upstream API: ${(err as Error).message}`, type: 'api_error', param: null, code });
  }

  const isSse = (header(res.headers, 'content-type') ?? '').startsWith('text/event-stream');
  const hideUsage = isSse && admitted.hideUsage;
  const meter = isSse ? admitted.endpoint?.streamMeter?.(hideUsage) : undefined;
  const keepBody = !isSse && admitted.endpoint !== undefined;
  const encoding = header(res.headers, 'content-encoding');
  const upstreamRequestId = header(res.headers, 'x-request-id');
  const headers = clientResponseHeaders(res.headers, hideUsage);
  headers.set('x-tollgate-request-id', requestId);
  for (const [k, v] of Object.entries(admitted.headers)) headers.set(k, v);

  const framer = new SseFramer();
  const encoder = new TextEncoder();
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let ttfbMs: number | undefined;
  let finished = false;
  const chunks = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

  /** Reads what the response held, once, and hands it to `record`. */
  const finish = (ending: Ending) => {
    if (finished) return;
    finished = true;
    req.signal.removeEventListener('abort', onClientAbort);
    let metered: Observed['metered'] = {};
    let text: string | undefined;
    if (meter) metered = meter.result();
    else if (keepBody && keptBytes <= MAX_METERED_BODY) metered = meterJsonBody((text = decodeBody(kept, encoding)) ?? '', admitted.endpoint?.output);
    const errorCode = metered.errorCode ?? (res.statusCode >= 400 ? errorCodeOfBody(text ?? decodeBody(kept, encoding)) : undefined);
    settleLater({ httpStatus: res.statusCode, ending, metered, errorCode, latencyMs: elapsed(), ttfbMs, upstreamRequestId });
  };

  const forward = (chunk: Buffer): Uint8Array | undefined => {
    if (!meter) {
      if (keepBody && (keptBytes += chunk.byteLength) <= MAX_METERED_BODY) kept.push(chunk);
      return chunk;
    }
    const whole = framer.push(chunk);
    return whole && meterEvents(whole);
  };

  /** Meters whole events; returns what the client gets: the same bytes, or the rewritten events. */
  const meterEvents = (whole: Buffer): Uint8Array | undefined => {
    const events = splitEvents(whole.toString('utf8'));
    if (!hideUsage) {
      for (const e of events) meter!.event(e);
      return whole;
    }
    let out = '';
    for (const e of events) out += meter!.event(e) ?? '';
    return out ? encoder.encode(out) : undefined;
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const next = await chunks.next();
            if (next.done) {
              const rest = meter && framer.rest();
              const out = rest && meterEvents(rest);
              if (out) controller.enqueue(out);
              controller.close();
              finish('complete');
              return;
            }
            ttfbMs ??= elapsed();
            const out = forward(next.value);
            if (out) {
              controller.enqueue(out);
              return;
            }
          }
        } catch (err) {
          if (finished) return;
          if (abort.signal.aborted) {
            controller.close();
            finish('client_disconnected');
            return;
          }
          const code = timeoutCode(err) ?? 'upstream_stream_error';
          rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream stream broke');
          if (isSse) {
            const error = { message: `The upstream stream broke off: ${(err as Error).message}`, type: 'server_error', param: null, code };
            controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error })}\n\n`));
            controller.close();
          } else {
            controller.error(err);
          }
          finish(code);
        }
      },
      cancel() {
        abort.abort(new Error('client disconnected'));
        finish('client_disconnected');
      },
    },
    { highWaterMark: 0 },
  );
  if (res.statusCode === 204 || res.statusCode === 304) {
    await res.body.dump();
    finish('complete');
    return new Response(null, { status: res.statusCode, headers });
  }
  return new Response(stream, { status: res.statusCode, headers });
}

/** `upstream_timeout` for undici's connect, headers (first byte) and body (idle) timeouts. */
function timeoutCode(err: unknown): 'upstream_timeout' | undefined {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'upstream_timeout' : undefined;
}
