import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/** Requests refused at admission (401, 400, 429) never reach the upstream and leave no row. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const chatBody = chat.request.body as Record<string, unknown>;

let upstream: FakeUpstream;
const open: Tollgate[] = [];
let now = new Date('2026-11-22T12:00:00Z');

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  upstream.reset();
});
afterAll(() => upstream.close());

async function tollgate(opts: Partial<Parameters<typeof startTollgate>[0]> = {}): Promise<Tollgate> {
  const t = await startTollgate({ upstreamUrl: upstream.url, clock: () => now, ...opts });
  open.push(t);
  return t;
}

async function post(t: Tollgate, path: string, body: string, key?: string): Promise<Response> {
  return fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });
}

describe('authentication', () => {
  it.each([
    ['missing', undefined],
    ['unknown', 'sk-tg-not-a-real-key'],
  ])('refuses a %s key with 401 invalid_api_key', async (_case, key) => {
    const t = await tollgate();
    const res = await post(t, '/v1/chat/completions', JSON.stringify(chatBody), key);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null },
    });
    expect(upstream.received).toHaveLength(0);
    expect(t.rows()).toHaveLength(0);
  });

  it('refuses revoked and expired keys, through the SDK as AuthenticationError', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({
      companies: {
        acme: {
          allocations: [{ id: 'g', tokens: 1_000_000 }],
          keys: [
            { id: 'live' },
            { id: 'revoked', revoked: true },
            { id: 'expiring', expiresAt: '2026-11-22T12:00:01Z' },
          ],
        },
      },
    });
    await expect(t.client(t.keys.revoked).chat.completions.create(chatBody as never)).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    await expect(t.client(t.keys.expiring).chat.completions.create(chatBody as never)).resolves.toMatchObject({
      object: 'chat.completion',
    });
    now = new Date('2026-11-22T12:00:01Z'); // the expiry instant itself is already expired
    await expect(t.client(t.keys.expiring).chat.completions.create(chatBody as never)).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    expect(upstream.received).toHaveLength(1);
    expect(t.rows()).toHaveLength(1);
  });
});

describe('malformed requests', () => {
  it.each([
    ['malformed JSON', '{"model": "gpt-3.5-turbo", "messages": [', null],
    ['a JSON array', '[1,2]', null],
    ['a missing model', '{"messages":[{"role":"user","content":"hi"}]}', 'model'],
    ['an empty model', '{"model":"","messages":[]}', 'model'],
    ['an unpriced model', '{"model":"gpt-unknown","messages":[]}', 'model'],
    ['a non-boolean stream', '{"model":"gpt-3.5-turbo","messages":[],"stream":"yes"}', 'stream'],
  ])('answers %s with 400 invalid_request_error', async (_case, body, param) => {
    const t = await tollgate();
    const res = await post(t, '/v1/chat/completions', body, t.keys['acme-key']);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } });
    expect(upstream.received).toHaveLength(0);
    expect(t.rows()).toHaveLength(0);
  });

  it('answers unknown paths with OpenAI 404 by default', async () => {
    const t = await tollgate();
    const res = await post(t, '/v1/assistants', '{}', t.keys['acme-key']);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: 'Invalid URL (POST /v1/assistants)' },
    });
    expect(upstream.received).toHaveLength(0);
  });
});

describe('allocations', () => {
  it('refuses with 429 insufficient_quota and x-should-retry: false once the allocation runs out, at the right request', async () => {
    // Each request costs 22 tokens (the recording's usage). Admission needs more than the prompt
    // estimate p left, so with 3 × 22 + p − 1 tokens exactly three requests pass.
    const p = estimateRequest('/v1/chat/completions', String(chatBody.model), chatBody).promptTokens;
    const t = await tollgate({ companies: { acme: { allocations: [{ id: 'small', tokens: 3 * 22 + p - 1 }] } } });
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const client = t.client(undefined, { maxRetries: 2, fetch: counting });
    for (let i = 0; i < 3; i++)
      await expect(client.chat.completions.create(chatBody as never)).resolves.toMatchObject({
        usage: { total_tokens: 22 },
      });
    // The third request found 22 + p − 1 tokens left: less than prompt + model maximum, so the clamp policy capped its output.
    expect(JSON.parse(upstream.received[2]!.body.toString()).max_completion_tokens).toBe(22 + p - 1 - p);

    calls = 0;
    const err = await client.chat.completions.create(chatBody as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    expect(calls).toBe(1); // the SDK obeyed x-should-retry and did not retry
    expect(upstream.received).toHaveLength(3);
    expect(t.rows().map((r) => r.status)).toEqual(['settled', 'settled', 'settled']);
    expect((await t.server.runtime.ledger.balance('acme', now)).tokens).toBe(p - 1);
  });

  it('stops counting a grant at its expiry instant and starts it at its start', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({
      companies: {
        acme: {
          allocations: [
            { id: 'ends', tokens: 1000, expiresAt: '2026-11-22T12:00:01Z' },
            { id: 'later', tokens: 1000, startsAt: '2026-11-22T12:00:05Z' },
          ],
        },
      },
    });
    const client = t.client();
    await expect(client.chat.completions.create(chatBody as never)).resolves.toBeTruthy();
    now = new Date('2026-11-22T12:00:01Z');
    await expect(client.chat.completions.create(chatBody as never)).rejects.toMatchObject({
      status: 429,
      code: 'insufficient_quota',
    });
    now = new Date('2026-11-22T12:00:05Z');
    await expect(client.chat.completions.create(chatBody as never)).resolves.toBeTruthy();
    expect(t.query('SELECT grant_id, amount FROM debits ORDER BY created_at')).toEqual([
      { grant_id: 'ends', amount: 22 },
      { grant_id: 'later', amount: 22 },
    ]);
  });
});
