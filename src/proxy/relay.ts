import { performance } from 'node:perf_hooks';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { errorResponse } from '../http/errors.js';
import type { Outcome } from '../ledger/ledger.js';
import { countTokens } from '../metering/tokenizer.js';
import { SseSplitter } from '../metering/sse.js';
import type { StreamMeter, StreamMetered } from '../metering/stream-meter.js';
import { meterJsonBody, type Metered } from '../metering/usage.js';
import { costMicroUsd } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';
import type { Admitted } from './admission.js';
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

/** How the relay meters a response: by tokens (an admitted request) or not at all (a pass-through). */
type Metering = { admitted: Admitted; meter: (hideUsage: boolean) => StreamMeter } | { requestId: string };

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
 * way, then settles (or voids) the request's ledger row exactly once.
 *
 * - JSON bodies pass through byte-for-byte (encoding and `content-length` kept); a copy is decoded
 *   and metered after the last byte is sent.
 * - SSE bodies are split into events; each event is metered and sent on as soon as it is complete,
 *   rewritten only when tollgate added `include_usage` (see `chatStreamMeter`).
 * - When usage never arrives on a successful response (the client left mid-stream, the upstream
 *   broke off), the row is charged an estimate: prompt tokens + the tokens of the text seen,
 *   counted with gpt-tokenizer, with usage source `estimated`.
 * - An upstream error status without usage voids the row with the upstream's error code.
 */
export async function relay(rt: Runtime, req: ClientRequest, metering: Metering, body: Uint8Array | string | ReadableStream<Uint8Array> | undefined, started: number): Promise<Response> {
  const admitted = 'admitted' in metering ? metering.admitted : undefined;
  const requestId = admitted?.requestId ?? (metering as { requestId: string }).requestId;
  const abort = new AbortController();
  const onClientAbort = () => abort.abort(new Error('client disconnected'));
  req.signal.addEventListener('abort', onClientAbort, { once: true });
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;

  const upstreamHeaders = upstreamRequestHeaders(req.headers, rt.upstream.apiKey, admitted?.stream ?? false);
  // OpenAI records X-Client-Request-Id with the request (openai-openapi, "Debugging requests"): the
  // ledger row and the upstream's logs then share an id, unless the client sent its own.
  upstreamHeaders['x-client-request-id'] ??= requestId;
  const length = req.headers.get('content-length');
  if (body instanceof ReadableStream && length) upstreamHeaders['content-length'] = length;
  let res: Dispatcher.ResponseData;
  try {
    res = await rt.upstream.request({
      method: req.method,
      pathAndQuery: req.pathAndQuery,
      headers: upstreamHeaders,
      body,
      signal: abort.signal,
    });
  } catch (err) {
    req.signal.removeEventListener('abort', onClientAbort);
    const code = abort.signal.aborted ? 'client_disconnected' : 'upstream_unreachable';
    rt.ledger.void(requestId, { httpStatus: abort.signal.aborted ? null : 502, usageSource: 'none', latencyMs: elapsed(), errorCode: code }, rt.clock());
    rt.log.warn({ requestId, err: (err as Error).message, code }, 'upstream request failed');
    return errorResponse(502, { message: `tollgate could not reach the upstream API: ${(err as Error).message}`, type: 'api_error', param: null, code });
  }

  const isSse = (header(res.headers, 'content-type') ?? '').startsWith('text/event-stream');
  const hideUsage = isSse && (admitted?.hideUsage ?? false);
  const meter = isSse && admitted && 'meter' in metering ? metering.meter(hideUsage) : undefined;
  const encoding = header(res.headers, 'content-encoding');
  const upstreamRequestId = header(res.headers, 'x-request-id');
  const headers = clientResponseHeaders(res.headers, hideUsage);
  headers.set('x-tollgate-request-id', requestId);
  if (admitted) for (const [k, v] of Object.entries(admitted.headers)) headers.set(k, v);

  const splitter = new SseSplitter();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let ttfbMs: number | undefined;
  let finished = false;
  const chunks = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;

  /** Writes the row once: settle with usage or an estimate, or void. */
  const finish = (ending: 'complete' | 'client_disconnected' | 'upstream_stream_error') => {
    if (finished) return;
    finished = true;
    req.signal.removeEventListener('abort', onClientAbort);
    let metered: Metered & Partial<StreamMetered> = {};
    let text: string | undefined;
    if (meter) metered = meter.result();
    else if (admitted && keptBytes <= MAX_METERED_BODY) metered = meterJsonBody((text = decodeBody(kept, encoding)) ?? '');
    const errorCode = ending !== 'complete' ? ending : (metered.errorCode ?? (res.statusCode >= 400 ? errorCodeOfBody(text) : undefined));
    const base = { httpStatus: res.statusCode, returnedModel: metered.model, latencyMs: elapsed(), ttfbMs, upstreamRequestId, errorCode };
    const ok = res.statusCode < 400;
    let outcome: Outcome | undefined;
    if (admitted && metered.usage) {
      outcome = { ...base, usage: metered.usage, usageSource: 'upstream', meteredTokens: metered.usage.totalTokens, costMicroUsd: costMicroUsd(metered.usage, admitted.price) };
    } else if (admitted && ok) {
      const outputTokens = countTokens(admitted.model, metered.outputText ?? '');
      const usage = { inputTokens: admitted.estimate.promptTokens, cachedInputTokens: 0, outputTokens, reasoningTokens: 0, totalTokens: admitted.estimate.promptTokens + outputTokens };
      outcome = { ...base, usage, usageSource: 'estimated', meteredTokens: usage.totalTokens, costMicroUsd: costMicroUsd(usage, admitted.price) };
    }
    const now = rt.clock();
    if (outcome && admitted) {
      rt.ledger.settle(requestId, outcome, now);
      const { principal, model, quotas } = admitted;
      const subject = principal.userId !== null ? `${principal.companyId}/${principal.userId}` : `key:${principal.keyId}`;
      const tokens = outcome.meteredTokens;
      setImmediate(() => rt.alerts.afterSettle({ companyId: principal.companyId, subject, model, quotas, tokens }));
    }
    else if (admitted) rt.ledger.void(requestId, { ...base, usageSource: 'none' }, now);
    else rt.ledger.settle(requestId, { ...base, usageSource: 'none', meteredTokens: 0, costMicroUsd: 0 }, now);
    rt.log.info({ requestId, status: res.statusCode, usage: outcome?.usageSource ?? 'none', tokens: outcome?.meteredTokens ?? 0, latencyMs: base.latencyMs, errorCode }, 'request finished');
  };

  const forward = (chunk: Buffer): Uint8Array | undefined => {
    if (!meter) {
      if (admitted && (keptBytes += chunk.byteLength) <= MAX_METERED_BODY) kept.push(chunk);
      return chunk;
    }
    const events = splitter.push(decoder.decode(chunk, { stream: true }));
    if (!hideUsage) {
      for (const e of events) meter.event(e);
      return chunk;
    }
    let out = '';
    for (const e of events) out += meter.event(e) ?? '';
    return out ? encoder.encode(out) : undefined;
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const next = await chunks.next();
            if (next.done) {
              if (meter) {
                const rest = splitter.rest() + decoder.decode();
                if (rest) {
                  const out = meter.event(rest);
                  if (hideUsage && out) controller.enqueue(encoder.encode(out));
                }
              }
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
          rt.log.warn({ requestId, err: (err as Error).message }, 'upstream stream broke');
          if (isSse) {
            const error = { message: `The upstream stream broke off: ${(err as Error).message}`, type: 'server_error', param: null, code: 'upstream_stream_error' };
            controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error })}\n\n`));
            controller.close();
          } else {
            controller.error(err);
          }
          finish('upstream_stream_error');
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
