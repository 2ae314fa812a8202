import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/**
 * Concurrency: hundreds of SDK requests race for an allocation that affords far fewer. Holds are
 * placed in BEGIN IMMEDIATE transactions, so the allocation is never overspent beyond the documented
 * bound, and every request has exactly one row.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!; // usage: 22 tokens
const stream = recordings.get('chat-stream-usage-02')!; // usage: 1520 tokens
const CONCURRENCY = 240;
const ALLOCATION = 2_000;

let upstream: FakeUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 5;
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'tight', tokens: ALLOCATION }] } },
  });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});

describe('racing requests', () => {
  it(`${CONCURRENCY} concurrent SDK requests never overspend and each leaves exactly one row`, async () => {
    // A ceiling of 14 output tokens: the hold is prompt + 14, the recording uses 22 in all.
    const body = { ...(chat.request.body as object), max_tokens: 14 };
    const hold = estimateRequest('/v1/chat/completions', 'gpt-3.5-turbo', body).promptTokens + 14;
    const client = tollgate.client();
    const results = await Promise.allSettled(
      Array.from({ length: CONCURRENCY }, () =>
        client.chat.completions.create(body as never, { headers: { 'x-test-recording': chat.name } }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'insufficient_quota' });

    const rows = tollgate.rows();
    expect(rows).toHaveLength(ok);
    expect(upstream.received).toHaveLength(ok);
    expect(new Set(upstream.received.map((r) => r.headers['x-client-request-id'])).size).toBe(ok);
    expect(rows.every((r) => r.status === 'settled' && r.metered_tokens === 22)).toBe(true);

    // Overspend bound: a request can exceed its hold only by what the estimate missed.
    const excess = rows.reduce((s, r) => s + Math.max(0, Number(r.metered_tokens) - Number(r.hold_tokens)), 0);
    const spent = rows.reduce((s, r) => s + Number(r.metered_tokens), 0);
    expect(spent).toBeLessThanOrEqual(ALLOCATION + excess);
    expect(excess).toBe(0); // the estimate (prompt + 14) covers the 22 tokens each request used
    // The allocation was used up as far as the holds allow: what is left cannot admit one more request.
    const left = (await tollgate.server.runtime.ledger.balance('acme', new Date())).tokens;
    expect(left).toBe(ALLOCATION - spent);
    expect(left).toBeLessThan(hold);
    expect(ok).toBeGreaterThan(ALLOCATION / hold - 1);
    expect(refused.length).toBeGreaterThan(CONCURRENCY / 2);
  });

  it('streams racing for the last tokens are clamped so they cannot overspend', async () => {
    // No ceiling in the request: the clamp policy caps each admitted stream's output at what its hold affords.
    const t = await startTollgate({
      upstreamUrl: upstream.url,
      companies: { acme: { allocations: [{ id: 'g', tokens: 20_000 }] } },
    });
    try {
      const { stream_options: _s, max_tokens: _m, ...body } = stream.request.body as Record<string, unknown>;
      const client = t.client();
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, async () => {
          const s = await client.chat.completions.create(body as never, {
            headers: { 'x-test-recording': stream.name },
          });
          for await (const _chunk of s as unknown as AsyncIterable<unknown>);
        }),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      // A stream's row settles just after its last byte: wait for the ledger, not for the client.
      await t.settled();
      const rows = t.rows();
      expect(rows).toHaveLength(ok);
      expect(rows.every((r) => r.status === 'settled')).toBe(true);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(OpenAI.RateLimitError);
      // Every forwarded request carried a ceiling that fits its hold: prompt + ceiling ≤ hold. (The
      // fake upstream replays 100 output tokens whatever the ceiling; a real one stops at it.)
      const sentBy = new Map(
        upstream.received.map((got) => [
          got.headers['x-client-request-id'],
          JSON.parse(got.body.toString()) as { max_completion_tokens?: number },
        ]),
      );
      let clamped = 0;
      for (const row of rows) {
        const sent = sentBy.get(String(row.id))!;
        if (sent.max_completion_tokens === undefined) {
          expect(Number(row.hold_tokens)).toBe(Number(row.estimated_prompt_tokens) + 16_384); // gpt-4o's maximum output
        } else {
          clamped++;
          expect(Number(row.estimated_prompt_tokens) + sent.max_completion_tokens).toBeLessThanOrEqual(
            Number(row.hold_tokens),
          );
        }
      }
      expect(clamped).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });
});
