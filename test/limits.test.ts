import { SignJWT } from 'jose';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dailyWindow, monthlyWindow } from '../src/limits/windows.js';
import { estimateRequest } from '../src/metering/estimate.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/** Quotas per user and key in calendar windows, rate limits, and the standing headers. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!; // 22 tokens
const body = { ...(chat.request.body as object), max_tokens: 5 };
const HOLD = estimateRequest('/v1/chat/completions', 'gpt-3.5-turbo', body).promptTokens + 5;
process.env.LIMITS_JWT_SECRET = 'limits-secret-0123456789abcdef0123456789';

let upstream: FakeUpstream;
const open: Tollgate[] = [];
let now = new Date();

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
  upstream.delayMs = 2;
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  upstream.reset();
});
afterAll(() => upstream.close());

async function tollgate(company: Record<string, unknown>): Promise<Tollgate> {
  const t = await startTollgate({
    upstreamUrl: upstream.url,
    clock: () => now,
    companies: {
      acme: {
        allocations: [{ id: 'g', tokens: 10_000_000 }],
        jwt: { algorithms: ['HS256'], secretEnv: 'LIMITS_JWT_SECRET' },
        ...company,
      },
    },
  });
  open.push(t);
  return t;
}

const userToken = (sub: string, sid?: string) =>
  new SignJWT({ company: 'acme', ...(sid ? { sid } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.parse('2099-01-01T00:00:00Z') / 1000))
    .sign(new TextEncoder().encode(process.env.LIMITS_JWT_SECRET));

async function send(t: Tollgate, credential: string): Promise<Response> {
  return fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Sends until refused (at most `max`), returning how many passed and the refusal. */
async function untilRefused(t: Tollgate, credential: string, max = 20) {
  for (let i = 0; i < max; i++) {
    const res = await send(t, credential);
    if (res.status !== 200)
      return {
        passed: i,
        res,
        error: ((await res.json()) as { error: { code: string; message: string; type: string } }).error,
      };
    await res.arrayBuffer();
  }
  throw new Error('never refused');
}

describe('calendar windows', () => {
  it('roll over at local midnight in New York, across the end of DST (a 25-hour day)', () => {
    expect(dailyWindow(new Date('2026-11-01T03:59:59Z'), 'America/New_York')).toEqual({
      key: '2026-10-31',
      resetsAt: new Date('2026-11-01T04:00:00Z'),
    });
    expect(dailyWindow(new Date('2026-11-01T04:00:00Z'), 'America/New_York')).toEqual({
      key: '2026-11-01',
      resetsAt: new Date('2026-11-02T05:00:00Z'),
    });
    expect(dailyWindow(new Date('2026-03-08T05:00:00Z'), 'America/New_York')).toEqual({
      key: '2026-03-08',
      resetsAt: new Date('2026-03-09T04:00:00Z'),
    });
  });

  it('roll a month over at local midnight of the 1st in Berlin', () => {
    expect(monthlyWindow(new Date('2026-11-30T22:59:59Z'), 'Europe/Berlin')).toEqual({
      key: '2026-11',
      resetsAt: new Date('2026-11-30T23:00:00Z'),
    });
    expect(monthlyWindow(new Date('2026-11-30T23:00:00Z'), 'Europe/Berlin')).toEqual({
      key: '2026-12',
      resetsAt: new Date('2026-12-31T23:00:00Z'),
    });
    expect(monthlyWindow(new Date('2026-03-31T21:59:59Z'), 'Europe/Berlin').key).toBe('2026-03');
    expect(monthlyWindow(new Date('2026-03-31T22:00:00Z'), 'Europe/Berlin').key).toBe('2026-04'); // CEST: UTC+2
  });
});

describe('quotas', () => {
  it('a daily user quota refuses with 429 naming the window and its reset, and resets at local midnight across DST', async () => {
    now = new Date('2026-10-31T20:00:00Z'); // 16:00 in New York (EDT)
    const t = await tollgate({
      timeZone: 'America/New_York',
      limits: { user: { quotas: { daily: { tokens: 22 * 2 + HOLD - 1 } } } },
    });
    const alice = await userToken('alice');
    const first = await untilRefused(t, alice);
    expect(first.passed).toBe(2);
    expect(first.res.status).toBe(429);
    expect(first.res.headers.get('x-should-retry')).toBe('false');
    expect(first.error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(first.error.message).toContain('daily quota');
    expect(first.error.message).toContain('user alice');
    expect(first.error.message).toContain('2026-11-01T04:00:00.000Z');
    // Another user has a quota of their own.
    expect((await send(t, await userToken('bob'))).status).toBe(200);

    now = new Date('2026-11-01T03:59:59Z');
    expect((await send(t, alice)).status).toBe(429);
    now = new Date('2026-11-01T04:00:00Z'); // local midnight: a new day (which lasts 25 hours)
    expect((await untilRefused(t, alice)).passed).toBe(2);
    now = new Date('2026-11-02T04:30:00Z'); // 23:30 on Nov 1 in New York: still the same day
    expect((await send(t, alice)).status).toBe(429);
    now = new Date('2026-11-02T05:00:00Z');
    expect((await send(t, alice)).status).toBe(200);
  });

  it('a monthly USD quota in Berlin rolls over at the end of the month', async () => {
    now = new Date('2026-11-30T22:00:00Z');
    // gpt-3.5-turbo holds at $1.50/1M per token; 22 tokens cost 18 micro-USD (18 input + 4 output).
    const t = await tollgate({ timeZone: 'Europe/Berlin', limits: { user: { quotas: { monthly: { usd: 0.0001 } } } } });
    const u = await userToken('carol');
    const r = await untilRefused(t, u);
    expect(r.passed).toBeGreaterThan(0);
    expect(r.error.message).toContain('monthly quota of $0.000100');
    now = new Date('2026-11-30T23:00:00Z');
    expect((await send(t, u)).status).toBe(200);
  });

  it('a hard quota never resets; a session quota is per session; a key quota applies to the key', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({
      limits: { user: { quotas: { session: { tokens: 22 + HOLD - 1 } } } },
      users: { dave: { quotas: { hard: { tokens: 22 + HOLD - 1 } } } },
      keys: [{ id: 'app', limits: { quotas: { daily: { tokens: 22 + HOLD - 1 } } } }],
    });
    const dave = await userToken('dave');
    expect((await untilRefused(t, dave)).passed).toBe(1);
    now = new Date('2027-06-01T00:00:00Z');
    const later = await untilRefused(t, dave);
    expect(later.passed).toBe(0);
    expect(later.error.message).toContain('does not reset');

    const s1 = await userToken('erin', 's1');
    expect((await untilRefused(t, s1)).passed).toBe(1);
    expect((await untilRefused(t, await userToken('erin', 's2'))).passed).toBe(1);

    const key = await untilRefused(t, t.keys.app!);
    expect(key.passed).toBe(1);
    expect(key.error.message).toContain('key app');
  });

  it('racing requests of one user cannot exceed the daily quota', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const limit = 500;
    const t = await tollgate({ limits: { user: { quotas: { daily: { tokens: limit } } } } });
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: await userToken('frank'), maxRetries: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => client.chat.completions.create(body as never)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThan(0);
    expect(ok * 22).toBeLessThanOrEqual(limit);
    expect(t.rows()).toHaveLength(ok);
    const [counter] = t.query(
      "SELECT spent_tokens, held_tokens FROM quota_counters WHERE id LIKE 'user:acme/frank:daily:%'",
    );
    expect(counter).toEqual({ spent_tokens: ok * 22, held_tokens: 0 });
  });

  it('every proxied response carries the remaining balance and quota', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({ limits: { user: { quotas: { daily: { tokens: 1000, usd: 1 } } } } });
    const res = await send(t, await userToken('gina'));
    expect(res.status).toBe(200);
    // The standing after the hold the row records (on a bound of the prompt: the balance has room).
    const [row] = t.query('SELECT hold_tokens, hold_micro_usd FROM requests') as {
      hold_tokens: number;
      hold_micro_usd: number;
    }[];
    expect(row!.hold_tokens).toBeGreaterThanOrEqual(HOLD);
    expect(row!.hold_micro_usd).toBe(Math.ceil(row!.hold_tokens * 1.5));
    expect(res.headers.get('x-tollgate-balance-tokens')).toBe(String(10_000_000 - row!.hold_tokens));
    expect(res.headers.get('x-tollgate-balance-usd')).toBe('0.000000');
    expect(res.headers.get('x-tollgate-quota-user-daily')).toBe(
      `tokens=${1000 - row!.hold_tokens}/1000; usd=${(1 - row!.hold_micro_usd / 1e6).toFixed(6)}/1.000000; reset=2026-11-23T00:00:00.000Z`,
    );
  });
});

describe('rate limits', () => {
  it('requests per minute: 429 rate_limit_exceeded with OpenAI headers, then refills', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({ limits: { key: { rateLimits: { requestsPerMinute: 3 } } } });
    const r = await untilRefused(t, t.keys['acme-key']!);
    expect(r.passed).toBe(3);
    expect(r.res.status).toBe(429);
    expect(r.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect(r.res.headers.get('retry-after-ms')).toBe('20000');
    expect(r.res.headers.get('retry-after')).toBe('20');
    expect(r.res.headers.get('x-ratelimit-limit-requests')).toBe('3');
    expect(r.res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(r.res.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
    expect(upstream.received).toHaveLength(3);
    now = new Date(now.getTime() + 20_000);
    const next = await send(t, t.keys['acme-key']!);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await send(t, t.keys['acme-key']!)).status).toBe(429);
  });

  it('tokens per minute count the estimate, per user', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({ limits: { user: { rateLimits: { tokensPerMinute: HOLD * 2 } } } });
    const r = await untilRefused(t, await userToken('hank'));
    expect(r.passed).toBe(2);
    expect(r.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'tokens' });
    expect((await send(t, await userToken('ivy'))).status).toBe(200);
  });
});
