import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batchLine,
  createBatch,
  createFineTuningJob,
  type DeferredSetup,
  FAST_SETTLEMENT,
  finished as finishedIn,
  rowFor as rowIn,
  startDeferredTollgate,
} from './support/batches.js';
import type { DeferredUpstream } from './support/deferred-upstream.js';
import type { Tollgate } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/**
 * Batches, fine-tuning jobs and videos settled by tollgate's settler, end to end (real server on
 * 127.0.0.1, the openai SDK, a real SQLite file): each is held at creation, its row stays `held`
 * while the object runs (the fake upstream moves it one status per retrieve, so only the settler's
 * polls move it), and the settler settles it once from the final object — a batch at Batch prices
 * (from its usage, or its output file's lines per model), a job on `trained_tokens` at the training
 * price, a video on its seconds; a failed video is voided.
 */

let setup: DeferredSetup;
let fake: DeferredUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  setup = await startDeferredTollgate(FAST_SETTLEMENT);
  ({ fake, tollgate } = setup);
});
afterAll(() => setup.close());

const client = () => tollgate.client();
const rowFor = (endpoint: string, index: number) => rowIn(tollgate, endpoint, index);
const finished = (endpoint: string, n: number) => finishedIn(tollgate, endpoint, n);
const batchOf = (lines: string[]) => createBatch(client(), lines);

describe('the settler settles deferred work once it is final', () => {
  it('a completed batch: its usage at Batch prices, the hold released, billed once', async () => {
    fake.reportBatchUsage = true;
    const batch = await batchOf([0, 1, 2, 3].map((i) => batchLine(i, 'gpt-4o-mini')));
    await waitUntil(finished('/v1/batches', 0), { what: 'the batch settled' });
    // 40 input × $0.15/1M + 20 output × $0.60/1M = 18 micro-USD, half at Batch prices.
    expect(rowFor('/v1/batches', 0)).toMatchObject({
      status: 'settled',
      usage_source: 'upstream',
      metered_tokens: 60,
      cost_nano_usd: 9_000,
      hold_tokens: expect.any(Number),
    });
    expect(tollgate.query('SELECT object_id FROM billed_objects WHERE object_id = ?', batch.id)).toHaveLength(1);
    // A retrieve after it was billed bills nothing more.
    await client().batches.retrieve(batch.id);
    await tollgate.settled();
    expect(tollgate.query("SELECT SUM(metered_tokens) AS n FROM requests WHERE endpoint LIKE '/v1/batches%'")).toEqual([
      { n: 60 },
    ]);
  });

  it('a batch cancelled halfway: the half done, each model at its own price, from the output file', async () => {
    fake.reportBatchUsage = false;
    const batch = await batchOf([0, 1, 2, 3, 4, 5].map((i) => batchLine(i, i % 2 ? 'gpt-4o' : 'gpt-4o-mini')));
    await client().batches.cancel(batch.id);
    await waitUntil(finished('/v1/batches', 1), { what: 'the cancelled batch settled' });
    const row = rowFor('/v1/batches', 1);
    expect(row).toMatchObject({ status: 'settled', metered_tokens: 45, error_code: 'batch_cancelled' });
    expect(String(row.price_version)).toMatch(/gpt-4o@.* \+ gpt-4o-mini@|gpt-4o-mini@.* \+ gpt-4o@/);
    expect(Number(row.cost_nano_usd)).toBeGreaterThan(0);
  });

  it('a fine-tuning job: trained_tokens at the training price', async () => {
    await createFineTuningJob(client());
    await waitUntil(finished('/v1/fine_tuning/jobs', 0), { what: 'the job settled' });
    // 12,345 trained tokens × $3/1M = 37,035 micro-USD.
    expect(rowFor('/v1/fine_tuning/jobs', 0)).toMatchObject({
      status: 'settled',
      metered_tokens: 12_345,
      cost_micro_usd: 37_035,
    });
  });

  it('a completed video: its seconds at the per-second price; a failed one voided', async () => {
    await client().videos.create({ prompt: 'a toll gate', seconds: '8' });
    await waitUntil(finished('/v1/videos', 0), { what: 'the video settled' });
    // 8 s × $0.10/s (sora-2) = 800,000 micro-USD.
    expect(rowFor('/v1/videos', 0)).toMatchObject({ status: 'settled', cost_micro_usd: 800_000 });
    await client().videos.create({ prompt: 'please fail' });
    await waitUntil(finished('/v1/videos', 1), { what: 'the failed video resolved' });
    expect(rowFor('/v1/videos', 1)).toMatchObject({ status: 'voided', cost_micro_usd: 0 });
    // The settler forgets an object right after settling its row (a second write): wait for it.
    await waitUntil(() => tollgate.query('SELECT COUNT(*) AS n FROM deferred_objects')[0]!.n === 0, {
      what: 'every settled object forgotten',
    });
  });
});
