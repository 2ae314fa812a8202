import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundUpstream } from './support/background-upstream.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/**
 * The background race: many racing `"background": true` requests on a small tokens grant. Each
 * holds its estimate (prompt + `max_output_tokens`) until the settler sees its response final, so
 * no more are admitted than the grant affords, and once all have settled the grant is charged no
 * more than it holds (each response's usage is below its hold: the documented bound adds nothing).
 * Two waves: the second is admitted on what the first left once it settled.
 */

const GRANT = 2_000;
const RACERS = Number(process.env.RACERS ?? 300);

let upstream: BackgroundUpstream;
let t: Tollgate;

beforeAll(async () => {
  upstream = await new BackgroundUpstream().start();
  t = await startTollgate({
    upstreamUrl: upstream.url,
    settlement: { pollIntervalMs: 20, firstPollMs: 5, maxPollMs: 20 },
    companies: { acme: { allocations: [{ id: 'small', tokens: GRANT }] } },
  });
});
afterAll(async () => {
  await t.close();
  await upstream.close();
});

/** Fires `n` background requests at once; resolves to how many were admitted, refusals checked to be 429 insufficient_quota. */
async function wave(n: number): Promise<number> {
  const client = t.client();
  const results = await Promise.allSettled(
    Array.from({ length: n }, () =>
      client.responses.create({
        model: 'gpt-4o-mini',
        input: 'Write a haiku',
        background: true,
        max_output_tokens: 100,
      } as never),
    ),
  );
  for (const r of results)
    if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 429, code: 'insufficient_quota' });
  return results.filter((r) => r.status === 'fulfilled').length;
}

const charged = () => Number(t.query('SELECT COALESCE(SUM(amount), 0) AS n FROM debits')[0]!.n);
const pending = () => Number(t.query('SELECT COUNT(*) AS n FROM deferred_objects')[0]!.n);

it(`${RACERS} racing background requests per wave: admitted ≤ affordable, charged ≤ the grant`, async () => {
  const first = await wave(RACERS);
  await waitUntil(() => pending() === first, { what: 'every admitted response deferred', timeoutMs: 20_000 });
  const hold = Number(t.query("SELECT MAX(hold_tokens) AS n FROM requests WHERE endpoint = '/v1/responses'")[0]!.n);
  const affordable = Math.floor(GRANT / hold);
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThanOrEqual(affordable);

  upstream.advanceAll('completed');
  await waitUntil(() => pending() === 0, { what: 'the settler settled the first wave', timeoutMs: 20_000 });
  const afterFirst = charged();
  expect(afterFirst).toBe(first * 52);

  const second = await wave(RACERS);
  await waitUntil(() => pending() === second, { what: 'the second wave deferred', timeoutMs: 20_000 });
  expect(second).toBeLessThanOrEqual(Math.floor((GRANT - afterFirst) / hold));
  upstream.advanceAll('completed');
  await waitUntil(() => pending() === 0, { what: 'the settler settled the second wave', timeoutMs: 20_000 });

  const total = charged();
  expect(total).toBe((first + second) * 52);
  expect(total).toBeLessThanOrEqual(GRANT);
  expect(t.query('SELECT COALESCE(SUM(overdraft), 0) AS n FROM debits')).toEqual([{ n: 0 }]);
  expect(t.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")).toEqual([{ n: 0 }]);
  console.log(
    `background race: ${RACERS} racers per wave, hold ${hold} tokens, grant ${GRANT}: wave 1 admitted ${first} (affordable ${affordable}), wave 2 admitted ${second}; ${total} tokens charged, overdraft 0`,
  );
}, 60_000);
