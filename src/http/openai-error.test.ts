import { describe, expect, it } from 'vitest';
import { refusalLabel, type Denial } from './denial.js';
import { errorResponse, OpenAIError, toOpenAIError } from './openai-error.js';

describe('toOpenAIError', () => {
  it('gives a rate limit its retry headers and the x-ratelimit-* headers of the request', () => {
    const e = toOpenAIError({
      kind: 'rate_limited',
      type: 'tokens',
      limit: 100,
      requested: 250,
      model: 'gpt-4o',
      retryAfterMs: 1500,
      headers: { 'x-ratelimit-limit-tokens': '100' },
    });
    expect(e.status).toBe(429);
    expect(e.body).toEqual({
      message:
        'Rate limit reached for gpt-4o on tokens per min (TPM): Limit 100, Requested 250. Please try again in 1.500s.',
      type: 'tokens',
      param: null,
      code: 'rate_limit_exceeded',
    });
    expect(e.headers).toEqual({ 'x-ratelimit-limit-tokens': '100', 'retry-after-ms': '1500', 'retry-after': '2' });
  });

  it('tells SDKs not to retry an insufficient quota', () => {
    const e = toOpenAIError({
      kind: 'insufficient_quota',
      by: 'balance',
      model: 'dall-e-3',
      needed: 40_000,
      available: 1_500,
      costOnly: true,
    });
    expect(e.status).toBe(429);
    expect(e.headers).toEqual({ 'x-should-retry': 'false' });
    expect(e.body.message).toBe(
      'You exceeded your current quota: this request needs up to $0.040000 (priced per unit, so only USD grants can pay for it) and your company has $0.001500 left for dall-e-3. Ask your tollgate administrator for a larger allocation.',
    );
  });

  it('names a quota, its limit and when it resets', () => {
    const quota = {
      scope: 'user',
      scopeId: 'acme/alice',
      window: 'daily',
      windowKey: '2026-11-30',
      limitTokens: 440,
      resetsAt: new Date('2026-12-01T00:00:00Z'),
    } as const;
    const e = toOpenAIError({
      kind: 'insufficient_quota',
      by: 'quota',
      quota: quota as never,
      available: 20,
      needed: 30,
    });
    expect(e.body.message).toBe(
      'You exceeded your daily quota of 440 tokens for user alice: this request needs up to 30 tokens and 20 are left. It resets at 2026-12-01T00:00:00.000Z.',
    );
  });

  it('maps upstream failures to 502 / 504 and anything unexpected to a 500 without details', async () => {
    expect(toOpenAIError({ kind: 'upstream_failed', code: 'upstream_timeout', message: 'x' }).status).toBe(504);
    expect(toOpenAIError({ kind: 'upstream_failed', code: 'upstream_unreachable', message: 'x' }).body).toEqual({
      message: 'tollgate could not get a response from the upstream API: x',
      type: 'api_error',
      param: null,
      code: 'upstream_unreachable',
    });
    const res = errorResponse(new Error('secret detail'));
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(JSON.stringify(await res.json())).not.toContain('secret');
    const own = new OpenAIError(418, { message: 'm', type: 't', param: null, code: null });
    expect(toOpenAIError(own)).toBe(own);
  });

  it('labels refusals by kind with the metric values tollgate has always used', () => {
    const labels = (['invalid_api_key', 'too_large', 'not_found', 'model_not_priced'] as const).map((kind) =>
      refusalLabel({ kind } as Denial),
    );
    expect(labels).toEqual(['invalid_api_key', 'request_too_large', 'not_found', 'invalid_request']);
  });
});
