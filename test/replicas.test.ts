import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startReplicas, type Replicas } from './support/replicas.js';

/**
 * Two replicas on one Postgres ledger, through the SDK: racing requests never overspend a grant
 * (beyond the documented bound) and each forwarded request has exactly one row; a rate limit is
 * enforced once across replicas, not once per replica.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!; // usage: 22 tokens
const RACERS = 2_000;
const GRANT = 2_000;
const IN_FLIGHT = 200;

let upstream: FakeUpstream;
let replicas: Replicas | undefined;
beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 2;
});
afterEach(async () => {
  await replicas?.close();
  replicas = undefined;
  upstream.received.length = 0;
});
afterAll(() => upstream.close());

describe('two replicas on one Postgres ledger', () => {
  it(`${RACERS} racing requests on a grant that affords far fewer: charged ≤ grant + the bound, one row per forwarded request`, {
    timeout: 120_000,
  }, async () => {
    replicas = await startReplicas(2, upstream.url, { allocations: [{ id: 'tight', tokens: GRANT }] });
    const body = { ...(chat.request.body as object), max_tokens: 14 };
    const hold = estimateRequest('/v1/chat/completions', 'gpt-3.5-turbo', body).promptTokens + 14;
    const clients = [replicas.client(0), replicas.client(1)];
    // 200 in flight at any time (a listen backlog would refuse 2,000 connections opened at once).
    const results: PromiseSettledResult<unknown>[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = next++; i < RACERS; i = next++) {
          results.push(
            ...(await Promise.allSettled([
              clients[i % 2]!.chat.completions.create(body as never, { headers: { 'x-test-recording': chat.name } }),
            ])),
          );
        }
      }),
    );
    expect(results).toHaveLength(RACERS);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 429, code: 'insufficient_quota' });

    const rows = await replicas.rows();
    expect(rows).toHaveLength(ok);
    expect(upstream.received).toHaveLength(ok);
    expect(rows.every((r) => r.status === 'settled' && r.metered_tokens === 22)).toBe(true);
    // Both replicas admitted some: the race really crossed processes' worth of state.
    expect(new Set(rows.map((r) => r.instance_id)).size).toBe(2);
    const excess = rows.reduce((s, r) => s + Math.max(0, Number(r.metered_tokens) - Number(r.hold_tokens)), 0);
    const spent = rows.reduce((s, r) => s + Number(r.metered_tokens), 0);
    expect(spent).toBeLessThanOrEqual(GRANT + excess);
    const left = (await replicas.servers[0]!.runtime.ledger.balance('acme', new Date())).tokens;
    expect(left).toBe(GRANT - spent);
    expect(left).toBeLessThan(hold);
    expect((await replicas.servers[1]!.runtime.ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual(
      [],
    );
  });

  it('a limit of 60 requests per minute shared by two replicas admits 60, not 120', async () => {
    const now = new Date('2026-11-30T12:00:00.000Z');
    replicas = await startReplicas(
      2,
      upstream.url,
      { allocations: [{ id: 'big', tokens: 10_000_000 }], limits: { key: { rateLimits: { requestsPerMinute: 60 } } } },
      () => now,
    );
    const clients = [replicas.client(0), replicas.client(1)];
    const results = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) =>
        clients[i % 2]!.chat.completions.create(chat.request.body as never, {
          headers: { 'x-test-recording': chat.name },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(ok).toBe(60);
    expect(upstream.received).toHaveLength(60);
    expect(await replicas.rows()).toHaveLength(60);
  });
});
