import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { chatStreamMeter } from '../metering/stream-meter.js';
import type { Admitted } from './admission.js';
import { parseJsonBody } from '../http/json-body.js';
import { holdRequest, priceModel, rewriteBody, validateBody } from './admit-json.js';
import { findEndpoint } from './endpoints.js';
import { requestHeadersFor, responseHeadersFor } from './headers.js';
import { MeterTap } from './meter-tap.js';
import { decide } from './outcome.js';
import { sendFailure } from './send.js';

/** The proxy path's passes, each without a server. */

const chat = findEndpoint('POST', '/v1/chat/completions')!;
/** A minimal valid config with `extra` fields. */
const cfg = (extra: Record<string, unknown> = {}) => parseConfig({ companies: {}, ...extra });
const bytes = (s: string) => new TextEncoder().encode(s);

describe('admission steps', () => {
  it('parse: a JSON object, else a 400 denial; a body with its own `kind` stays a body', () => {
    expect(parseJsonBody(bytes('{"kind":"not_found","model":"m"}'))).toEqual({
      json: { kind: 'not_found', model: 'm' },
    });
    expect(parseJsonBody(bytes('[1]'))).toEqual({
      kind: 'invalid_request',
      message: 'The request body must be a JSON object.',
      param: null,
      code: null,
    });
    expect(parseJsonBody(bytes('{'))).toMatchObject({
      kind: 'invalid_request',
      message: expect.stringMatching(/^We could not parse the JSON body of your request\./),
    });
  });

  it('validate: a model is required (moderations default one); stream must be a boolean', () => {
    expect(validateBody({ model: 'gpt-4o', stream: true }, chat)).toEqual({ model: 'gpt-4o', stream: true });
    expect(validateBody({}, { free: true })).toEqual({ model: 'omni-moderation-latest', stream: false });
    expect(validateBody({}, chat)).toMatchObject({ kind: 'invalid_request', param: 'model' });
    expect(validateBody({ model: 'm', stream: 'yes' }, chat)).toMatchObject({
      kind: 'invalid_request',
      param: 'stream',
    });
  });

  it('price: an unpriced model is refused or unbilled as the config says', () => {
    const now = new Date('2026-11-30T00:00:00Z');
    expect(priceModel(cfg(), 'no-such-model', now)).toEqual({ kind: 'model_not_priced', model: 'no-such-model' });
    expect(priceModel(cfg({ admission: { unpricedModels: 'unbilled' } }), 'no-such-model', now)).toBeUndefined();
    expect(priceModel(cfg(), 'gpt-4o-2024-08-06', now)).toMatchObject({
      version: expect.stringMatching(/^gpt-4o@genai-prices-/),
      resolvedAs: 'gpt-4o',
    });
  });

  it('hold request and body rewrite: a clamped hold writes the ceiling; a stream asks for usage', () => {
    const admission = cfg().admission;
    const estimate = { promptTokens: 10, modelMaxOutput: 100, choices: 1 };
    const want = holdRequest(estimate, undefined, 2, admission);
    expect(want).toEqual({ minTokens: 20, maxTokens: 220, clamp: true, maxPicoPerToken: 0 });
    const body = { model: 'm', stream: true };
    const raw = bytes(JSON.stringify(body));
    const out = rewriteBody(raw, body, chat, want, 120, estimate, 2);
    expect(out.hideUsage).toBe(true);
    expect(JSON.parse(out.body as string)).toEqual({
      model: 'm',
      stream: true,
      max_completion_tokens: 50,
      stream_options: { include_usage: true },
    });
    const untouched = rewriteBody(raw, { model: 'm' }, chat, { ...want, clamp: false }, 120, estimate, 2);
    expect(untouched).toEqual({ body: raw, hideUsage: false });
  });
});

const admitted = { requestId: 'req_1', stream: false, hideUsage: false, headers: { 'x-tollgate-balance-tokens': '5' } };

describe('request and response headers', () => {
  it('replace the credential, drop tollgate and hop-by-hop headers, and name the request upstream', () => {
    const h = requestHeadersFor(
      {
        authorization: 'Bearer sk-tg-x',
        'x-tollgate-feature': 'f',
        connection: 'keep-alive',
        'content-length': '5',
        accept: '*/*',
      },
      'sk-up',
      { ...admitted, streamsBody: false },
    );
    expect(h).toEqual({ authorization: 'Bearer sk-up', accept: '*/*', 'x-client-request-id': 'req_1' });
    // A caller's own X-Client-Request-Id stays on its row; upstream it is always tollgate's request id.
    expect(
      requestHeadersFor({ 'content-length': '5', 'x-client-request-id': 'mine' }, 'k', {
        ...admitted,
        streamsBody: true,
      }),
    ).toMatchObject({ 'content-length': '5', 'x-client-request-id': 'req_1' });
  });

  it('add the request id and standing; drop content-length when the stream is rewritten', () => {
    const json = responseHeadersFor({ 'content-type': 'application/json', 'content-length': '9' }, admitted);
    expect(json).toEqual({
      isSse: false,
      hideUsage: false,
      headers: {
        'content-type': 'application/json',
        'content-length': '9',
        'x-tollgate-request-id': 'req_1',
        'x-tollgate-balance-tokens': '5',
      },
    });
    const sse = responseHeadersFor(
      { 'content-type': 'text/event-stream', 'content-length': '9' },
      { ...admitted, hideUsage: true },
    );
    expect(sse.isSse).toBe(true);
    expect(sse.headers['content-length']).toBeUndefined();
  });
});

describe('meter tap', () => {
  it('passes a JSON body through and meters the kept copy, decoding it', async () => {
    const body = JSON.stringify({
      model: 'gpt-4o',
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    const zipped = gzipSync(body);
    const tap = new MeterTap({ hideUsage: false, keepBody: true, encoding: 'gzip', output: 'text' });
    await tap.decode(zipped.subarray(0, 5));
    expect(tap.push(zipped.subarray(0, 5))).toEqual(zipped.subarray(0, 5));
    await tap.decode(zipped.subarray(5));
    tap.push(zipped.subarray(5));
    expect(tap.end()).toBeUndefined();
    expect(await tap.endBody()).toBe(body);
    expect(tap.observed(200).metered).toMatchObject({
      model: 'gpt-4o',
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
    });
  });

  it('reads the error code of an error body', async () => {
    const tap = new MeterTap({ hideUsage: false, keepBody: true });
    const chunk = Buffer.from(
      JSON.stringify({ error: { message: 'x', type: 'invalid_request_error', code: 'context_length_exceeded' } }),
    );
    await tap.decode(chunk);
    tap.push(chunk);
    await tap.endBody();
    expect(tap.observed(400).errorCode).toBe('context_length_exceeded');
  });

  it('hands SSE on in whole events, hiding the usage chunk tollgate asked for', () => {
    const tap = new MeterTap({ meter: chatStreamMeter(true), hideUsage: true, keepBody: false });
    const content =
      'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n';
    const usage =
      'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n';
    expect(tap.push(Buffer.from(content.slice(0, 20)))).toBeUndefined();
    expect(tap.push(Buffer.from(content.slice(20)))?.toString()).toBe(content);
    expect(tap.push(Buffer.from(usage))).toBeUndefined();
    expect(tap.push(Buffer.from('data: [DONE]\n\n'))?.toString()).toBe('data: [DONE]\n\n');
    expect(tap.observed(200).metered).toMatchObject({ usage: { totalTokens: 4 }, outputText: 'Hi' });
  });
});

describe('sendFailure', () => {
  it('maps a timeout to 504 upstream_timeout and anything else to 502 upstream_unreachable', () => {
    expect(sendFailure(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), false)).toEqual({
      httpStatus: 504,
      denial: { kind: 'upstream_failed', code: 'upstream_timeout', message: 't' },
    });
    expect(sendFailure(new Error('ECONNREFUSED'), false)).toMatchObject({
      httpStatus: 502,
      denial: { code: 'upstream_unreachable' },
    });
  });

  it('records status 0 when the client left first', () => {
    expect(sendFailure(new Error('aborted'), true)).toMatchObject({
      httpStatus: 0,
      denial: { code: 'client_disconnected' },
    });
  });
});

describe('decide', () => {
  it('prices a model found only after admission with the lookup it is given', () => {
    const a = {
      requestId: 'r',
      principal: { companyId: 'c', keyId: 'k', userId: null, role: 'member', sessionId: null },
      endpoint: chat,
      held: true,
      model: null,
      stream: false,
      hideUsage: false,
      quotas: [],
      headers: {},
    } satisfies Admitted;
    const asked: string[] = [];
    const usage = {
      inputTokens: 1_000_000,
      cachedInputTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      totalTokens: 1_000_000,
    };
    const d = decide(
      a,
      { httpStatus: 200, ending: 'complete', metered: { usage, model: 'gpt-4o' }, latencyMs: 1 },
      undefined,
      (model) => {
        asked.push(model);
        return {
          price: cfg({ prices: { m: { input: 2, output: 8, source: 's', date: '2026-01-01' } } }).prices.m!,
          version: 'm@1',
        } as never;
      },
    );
    expect(asked).toEqual(['gpt-4o']);
    expect(d).toMatchObject({ settle: { costMicroUsd: 2_000_000, priceVersion: 'm@1', usageSource: 'upstream' } });
  });
});
