import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundUpstream } from './support/background-upstream.js';
import { startReplicas, type Replicas } from './support/replicas.js';
import { waitUntil } from './support/wait.js';

/**
 * Two replicas on one Postgres ledger, each running its settler: background responses created
 * through either are settled exactly once (each object claimed by one settler at a time, each id
 * billed once), whichever replica polls them.
 */

let upstream: BackgroundUpstream;
let replicas: Replicas;
let db: pg.Client;

beforeAll(async () => {
  upstream = await new BackgroundUpstream().start();
  replicas = await startReplicas(2, upstream.url, { allocations: [{ id: 'g', tokens: 1_000_000 }] });
  for (const s of replicas.servers)
    s.runtime.config.settlement = {
      pollIntervalMs: 20,
      firstPollMs: 5,
      maxPollMs: 20,
      leaseMs: 60_000,
      missesBeforeGone: 3,
    };
  db = new pg.Client({ connectionString: replicas.url });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await replicas.close();
  await upstream.close();
});

const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);

it('settles background responses created through two replicas exactly once', async () => {
  const created = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      replicas.client(i % 2).responses.create({
        model: 'gpt-4o-mini',
        input: 'Write a haiku',
        background: true,
        max_output_tokens: 100,
      } as never),
    ),
  );
  expect(created).toHaveLength(20);
  await waitUntil(async () => (await count('SELECT COUNT(*) AS n FROM deferred_objects')) === 20, {
    what: 'all twenty deferred',
    timeoutMs: 10_000,
  });
  upstream.advanceAll('completed');
  await waitUntil(async () => (await count('SELECT COUNT(*) AS n FROM deferred_objects')) === 0, {
    what: 'all twenty settled',
    timeoutMs: 10_000,
  });
  expect(
    await count("SELECT COUNT(*) AS n FROM requests WHERE endpoint = '/v1/responses' AND status = 'settled'"),
  ).toBe(20);
  expect(await count('SELECT COUNT(*) AS n FROM billed_objects')).toBe(20);
  expect(await count('SELECT COALESCE(SUM(amount), 0) AS n FROM debits')).toBe(20 * 52);
  const errors = (await replicas.servers[0]!.runtime.ledger.reader.verify()).filter((f) => f.severity === 'error');
  expect(errors).toEqual([]);
});
