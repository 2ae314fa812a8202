import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundUpstream } from './support/background-upstream.js';
import { startTollgate, type Tollgate, type TollgateOptions } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/**
 * Background Responses through tollgate's settler, end to end (real server on 127.0.0.1, the
 * openai SDK, a real SQLite file): a background response keeps its hold until the settler sees it
 * final, is billed once from its final usage whatever the client retrieves, a cancel bills what was
 * done, a restart resumes the pending objects, and racing background requests never overdraw a grant.
 * The fake upstream's objects move only when the test advances them.
 */

/** Polls every 20 ms; an object is first polled 5 ms after it was deferred, then at most every 20 ms. */
const SETTLEMENT = { pollIntervalMs: 20, firstPollMs: 5, maxPollMs: 20 };
/** 12 input × $0.15/1M + 40 output × $0.60/1M = 25.8 micro-USD → 26 (the fake's default usage). */
const COMPLETED_COST = 26;

let upstream: BackgroundUpstream;
const started: Tollgate[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  upstream = await new BackgroundUpstream().start();
});
afterEach(async () => {
  for (const t of started.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  upstream.stepPerRetrieve = false;
  upstream.cutStreams = false;
});
afterAll(async () => {
  await upstream.close();
});

const start = async (extra: Partial<TollgateOptions> = {}) => {
  const t = await startTollgate({ upstreamUrl: upstream.url, settlement: SETTLEMENT, ...extra });
  started.push(t);
  return t;
};
const create = (t: Tollgate, extra: Record<string, unknown> = {}) =>
  t.client().responses.create({
    model: 'gpt-4o-mini',
    input: 'Write a haiku',
    background: true,
    max_output_tokens: 100,
    ...extra,
  } as never);
const rowOf = (t: Tollgate, requestId: string) => t.query('SELECT * FROM requests WHERE id = ?', requestId)[0]!;
const pending = (t: Tollgate) => Number(t.query('SELECT COUNT(*) AS n FROM deferred_objects')[0]!.n);
const deferredRequest = (t: Tollgate, objectId: string) =>
  t.query('SELECT request_id FROM deferred_objects WHERE object_id = ?', objectId)[0]?.request_id as string | undefined;
const isSettled = (t: Tollgate, requestId: string) => rowOf(t, requestId).status !== 'held';

describe('a background response', () => {
  it('keeps its hold until final, is billed once by the settler, and retrieves bill nothing', async () => {
    const t = await start();
    const created = (await create(t)) as unknown as { id: string; status: string };
    expect(created.status).toBe('queued');
    await waitUntil(() => deferredRequest(t, created.id) !== undefined, { what: 'the response deferred' });
    const requestId = deferredRequest(t, created.id)!;
    expect(rowOf(t, requestId)).toMatchObject({ status: 'held', hold_tokens: expect.any(Number) });

    // A retrieve while it runs: recorded unbilled, the hold stays.
    await t.client().responses.retrieve(created.id);
    await t.settled();
    expect(rowOf(t, requestId).status).toBe('held');
    const pollsBefore = upstream.calls('GET', /^\/v1\/responses\/resp_/);

    upstream.advance(created.id, 'completed');
    await waitUntil(() => isSettled(t, requestId), { what: 'the settler settled the response' });
    expect(upstream.calls('GET', /^\/v1\/responses\/resp_/)).toBeGreaterThan(pollsBefore);
    expect(rowOf(t, requestId)).toMatchObject({
      status: 'settled',
      usage_source: 'upstream',
      input_tokens: 12,
      output_tokens: 40,
      metered_tokens: 52,
      cost_micro_usd: COMPLETED_COST,
      returned_model: 'gpt-4o-mini-2024-07-18',
    });
    await waitUntil(() => pending(t) === 0, { what: 'the settled object removed' });

    // Retrieves after it was billed: unbilled, and the object stays billed once.
    await t.client().responses.retrieve(created.id);
    await t.client().responses.retrieve(created.id);
    await t.settled();
    expect(
      t.query("SELECT COUNT(*) AS n, SUM(cost_micro_usd) AS cost FROM requests WHERE endpoint LIKE '/v1/responses/%'"),
    ).toEqual([{ n: 3, cost: 0 }]);
    expect(t.query('SELECT SUM(amount) AS n FROM debits')).toEqual([{ n: 52 }]);
    expect(t.query('SELECT object_id, request_id FROM billed_objects')).toEqual([
      { object_id: created.id, request_id: requestId },
    ]);
  });

  it('a client retrieve that sees it final gets it billed at once (the settler is nudged)', async () => {
    // Objects are not due for an hour: only the nudge can settle it within the test.
    const t = await start({ settlement: { ...SETTLEMENT, firstPollMs: 3_600_000, maxPollMs: 3_600_000 } });
    upstream.stepPerRetrieve = true;
    const created = (await create(t)) as unknown as { id: string };
    await waitUntil(() => deferredRequest(t, created.id) !== undefined, { what: 'the response deferred' });
    const requestId = deferredRequest(t, created.id)!;
    expect((await t.client().responses.retrieve(created.id)).status).toBe('in_progress');
    // The nudged poll moves the fake one step too (completed): it is settled.
    await waitUntil(() => isSettled(t, requestId), { what: 'the nudged settler settled the response' });
    expect(rowOf(t, requestId)).toMatchObject({ status: 'settled', metered_tokens: 52 });
  });

  it('a cancel settles what was done; a failed response without usage is voided', async () => {
    const t = await start();
    const a = (await create(t)) as unknown as { id: string };
    const b = (await create(t)) as unknown as { id: string };
    await waitUntil(() => pending(t) === 2, { what: 'both deferred' });
    const [ra, rb] = [deferredRequest(t, a.id)!, deferredRequest(t, b.id)!];
    upstream.advance(a.id, 'in_progress');
    const cancelled = await t.client().responses.cancel(a.id);
    expect(cancelled.status).toBe('cancelled');
    upstream.advance(b.id, 'failed', { noUsage: true });
    await waitUntil(() => isSettled(t, ra) && isSettled(t, rb), { what: 'both settled' });
    expect(rowOf(t, ra)).toMatchObject({
      status: 'settled',
      metered_tokens: 22,
      error_code: 'response_cancelled',
    });
    expect(rowOf(t, rb)).toMatchObject({ status: 'voided', metered_tokens: 0, error_code: 'server_error' });
    expect(t.query("SELECT cost_micro_usd FROM requests WHERE endpoint = '/v1/responses/:id/cancel'")).toEqual([
      { cost_micro_usd: 0 },
    ]);
    expect(t.query('SELECT SUM(amount) AS n FROM debits')).toEqual([{ n: 22 }]);
  });

  it('an object the upstream no longer knows is billed its counted prompt after consecutive 404s (charge_prompt)', async () => {
    const t = await start();
    const a = (await create(t)) as unknown as { id: string };
    await waitUntil(() => pending(t) === 1, { what: 'deferred' });
    const requestId = deferredRequest(t, a.id)!;
    upstream.forget(a.id);
    await waitUntil(() => isSettled(t, requestId), { what: 'voided' });
    const row = rowOf(t, requestId);
    expect(row).toMatchObject({ status: 'settled', usage_source: 'estimated', error_code: 'upstream_object_gone' });
    expect(row.metered_tokens).toBe(row.estimated_prompt_tokens);
    expect(row.metered_tokens).toBeGreaterThan(0);
  });
});

describe('background streams', () => {
  it('a stream read to its end settles as a live one; a cut one is deferred on its id and settled later', async () => {
    const t = await start();
    const full = await create(t, { stream: true });
    for await (const _ of full as unknown as AsyncIterable<unknown>) {
      // read to the end
    }
    await t.settled();
    expect(t.rows().at(-1)).toMatchObject({ status: 'settled', metered_tokens: 52 });
    expect(pending(t)).toBe(0);

    upstream.cutStreams = true;
    const cut = await create(t, { stream: true });
    await expect(
      (async () => {
        for await (const _ of cut as unknown as AsyncIterable<unknown>) {
          // until it breaks
        }
      })(),
    ).rejects.toThrow();
    await waitUntil(() => pending(t) === 1, { what: 'the cut stream deferred' });
    const { object_id: id, request_id: requestId } = (
      t.query('SELECT object_id, request_id FROM deferred_objects') as { object_id: string; request_id: string }[]
    )[0]!;
    upstream.advance(id, 'completed');
    await waitUntil(() => isSettled(t, requestId), { what: 'the cut stream settled' });
    expect(rowOf(t, requestId)).toMatchObject({ status: 'settled', metered_tokens: 52, usage_source: 'upstream' });
  });
});

describe('restart', () => {
  it('objects pending when tollgate stops are settled exactly once after it starts again; recovery leaves them alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-restart-'));
    dirs.push(dir);
    const ledgerPath = join(dir, 'ledger.db');
    // Not due for an hour while the first process runs: it stops with all three pending.
    const first = await start({ ledgerPath, settlement: { ...SETTLEMENT, firstPollMs: 3_600_000 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await create(first)) as unknown as { id: string }).id);
    await waitUntil(() => pending(first) === 3, { what: 'three deferred' });
    await first.close();
    started.splice(started.indexOf(first), 1);

    for (const id of ids) upstream.advance(id, 'completed');
    const second = await start({ ledgerPath, settlement: { ...SETTLEMENT, maxPollMs: 20 } });
    // The pending objects keep their first poll time (an hour away): a client retrieve nudges each.
    for (const id of ids) await second.client().responses.retrieve(id);
    await waitUntil(() => pending(second) === 0, { what: 'all three settled after the restart' });
    const rows = second.query(
      "SELECT status, metered_tokens, error_code FROM requests WHERE endpoint = '/v1/responses' ORDER BY rowid",
    );
    expect(rows).toEqual(ids.map(() => ({ status: 'settled', metered_tokens: 52, error_code: null })));
    expect(second.query('SELECT COUNT(*) AS n FROM billed_objects')).toEqual([{ n: 3 }]);
    expect(second.query('SELECT SUM(amount) AS n FROM debits')).toEqual([{ n: 3 * 52 }]);
  });
});
