import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundUpstream } from './support/background-upstream.js';
import {
  batchLine,
  createBatch,
  createFineTuningJob,
  type DeferredSetup,
  FAST_SETTLEMENT as SETTLEMENT,
  finished,
  rowFor,
  startDeferredTollgate,
} from './support/batches.js';
import type { DeferredUpstream } from './support/deferred-upstream.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { json, type ScriptedUpstream } from './support/scripted-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * Every way deferred work can end reaches a final state, end to end (real server on 127.0.0.1, the
 * openai SDK, a real SQLite file, tollgate's own settler): a batch whose output file is gone, a
 * batch or a response the upstream answers 5xx for until its deadline, work still running at its
 * deadline, a job that reports no trained tokens, an object answered 410. tollgate's clock runs
 * `offset` ms ahead of the wall clock, so a test moves past a deadline without waiting for it.
 */

const HOUR = 3_600_000;

let offset = 0;
const clock = () => new Date(Date.now() + offset);

let setup: DeferredSetup;
let upstream: ScriptedUpstream;
let fake: DeferredUpstream;
let tollgate: Tollgate;
/** How GETs of batches, jobs and videos are answered: moving them one step (`step`), as they stand (`frozen`), or this status. */
let polls: 'step' | 'frozen' | number = 'step';

beforeAll(async () => {
  setup = await startDeferredTollgate(SETTLEMENT, { clock });
  ({ upstream, fake, tollgate } = setup);
  upstream.script = (req, res) => {
    const id = /^\/v1\/(?:batches|videos|fine_tuning\/jobs)\/([^/]+)$/.exec(new URL(req.url, 'http://x').pathname)?.[1];
    if (req.method !== 'GET' || !id || polls === 'step') return fake.handle(req, res);
    if (polls === 'frozen') return json(res, 200, fake.objects.get(id));
    json(res, polls, { error: { message: 'upstream trouble', type: 'server_error', param: null, code: null } });
  };
});
afterEach(() => {
  polls = 'step';
  fake.keepOutputFiles = true;
  fake.reportBatchUsage = true;
});
afterAll(() => setup.close());

const client = () => tollgate.client();
/** What tollgate counted in an uploaded file, per model (tokens). */
const estimateOf = (t: Tollgate, fileId: string) =>
  JSON.parse(String(t.query('SELECT models FROM file_estimates WHERE file_id = ?', fileId)[0]!.models)) as {
    model: string;
    promptTokens: number;
    maxTokens: number;
  }[];
const outputReads = () => upstream.seen.filter((s) => s.method === 'GET' && /\/content$/.test(s.url)).length;
const gets = (id: string) => upstream.seen.filter((s) => s.method === 'GET' && s.url.endsWith(`/${id}`)).length;
const pendingObjects = (t: Tollgate) => Number(t.query('SELECT COUNT(*) AS n FROM deferred_objects')[0]!.n);
const lines = (n: number) => Array.from({ length: n }, (_, i) => batchLine(i, 'gpt-4o-mini'));

describe('a batch whose output file is gone', () => {
  it('settles from the usage it reports and never reads the file', async () => {
    fake.keepOutputFiles = false;
    const before = outputReads();
    await createBatch(client(), lines(4));
    await waitUntil(finished(tollgate, '/v1/batches', 0), { what: 'the batch settled' });
    expect(rowFor(tollgate, '/v1/batches', 0)).toMatchObject({
      status: 'settled',
      usage_source: 'upstream',
      metered_tokens: 60,
      cost_nano_usd: 9_000,
      error_code: null,
    });
    expect(outputReads()).toBe(before);
  });

  it('without usage: charged the counted prompt of its lines, estimated (batch_output_unreadable)', async () => {
    fake.keepOutputFiles = false;
    fake.reportBatchUsage = false;
    const batch = await createBatch(client(), lines(4));
    await waitUntil(finished(tollgate, '/v1/batches', 1), { what: 'the batch settled' });
    const prompt = estimateOf(tollgate, batch.input_file_id).reduce((n, m) => n + m.promptTokens, 0);
    expect(prompt).toBeGreaterThan(0);
    expect(rowFor(tollgate, '/v1/batches', 1)).toMatchObject({
      status: 'settled',
      usage_source: 'estimated',
      error_code: 'batch_output_unreadable',
      input_tokens: prompt,
      output_tokens: 0,
      metered_tokens: prompt,
      // gpt-4o-mini input at $0.15 / 1M, halved at Batch prices: 75 nano-USD a token.
      cost_nano_usd: prompt * 75,
    });
  });

  it('without usage, under the release policy: voided, never held', async () => {
    const released = await startDeferredTollgate(SETTLEMENT, { admission: { interruptedPolicy: 'release' } });
    try {
      released.fake.keepOutputFiles = false;
      released.fake.reportBatchUsage = false;
      await createBatch(released.tollgate.client(), lines(2));
      await waitUntil(finished(released.tollgate, '/v1/batches', 0), { what: 'the batch resolved' });
      expect(rowFor(released.tollgate, '/v1/batches', 0)).toMatchObject({
        status: 'voided',
        cost_micro_usd: 0,
        error_code: 'batch_output_unreadable',
      });
      expect(released.tollgate.query('SELECT SUM(held) AS n FROM grants')).toEqual([{ n: 0 }]);
    } finally {
      await released.close();
    }
  });
});

describe('deadlines', () => {
  it('a batch the upstream answers 500 for is polled until its deadline, then resolved and released', async () => {
    polls = 500;
    const batch = await createBatch(client(), lines(2));
    await waitUntil(() => gets(batch.id) >= 3, { what: 'three polls answered 500' });
    expect(rowFor(tollgate, '/v1/batches', 2).status).toBe('held');
    offset += 73 * HOUR;
    await waitUntil(finished(tollgate, '/v1/batches', 2), { what: 'the batch resolved at its deadline' });
    // A batch carries no counted prompt on its row: the interrupted policy has nothing to charge.
    expect(rowFor(tollgate, '/v1/batches', 2)).toMatchObject({
      status: 'voided',
      http_status: 504,
      error_code: 'upstream_object_unresolved',
    });
    await waitUntil(() => pendingObjects(tollgate) === 0, { what: 'the object forgotten' });
    expect(tollgate.query('SELECT SUM(held) AS n FROM grants')).toEqual([{ n: 0 }]);
  });

  it('a batch still in progress at its deadline is charged what it reports so far', async () => {
    polls = 'frozen';
    const batch = await createBatch(client(), lines(4));
    const o = fake.objects.get(batch.id)!;
    o.status = 'in_progress';
    o.usage = { input_tokens: 20, output_tokens: 10, total_tokens: 30 };
    await waitUntil(() => gets(batch.id) >= 2, { what: 'two polls of the running batch' });
    expect(rowFor(tollgate, '/v1/batches', 3).status).toBe('held');
    offset += 73 * HOUR;
    await waitUntil(finished(tollgate, '/v1/batches', 3), { what: 'the batch settled at its deadline' });
    expect(rowFor(tollgate, '/v1/batches', 3)).toMatchObject({
      status: 'settled',
      usage_source: 'upstream',
      metered_tokens: 30,
      error_code: 'upstream_object_unresolved',
    });
  });

  it('a video still queued at its deadline is voided (billed only once delivered)', async () => {
    polls = 'frozen';
    await client().videos.create({ prompt: 'a toll gate', seconds: '8' });
    offset += 25 * HOUR;
    await waitUntil(finished(tollgate, '/v1/videos', 0), { what: 'the video resolved at its deadline' });
    expect(rowFor(tollgate, '/v1/videos', 0)).toMatchObject({
      status: 'voided',
      error_code: 'upstream_object_unresolved',
    });
  });
});

describe('a fine-tuning job that succeeds without trained_tokens', () => {
  it('is charged its training file × its epochs, estimated', async () => {
    fake.trainedTokens = null;
    try {
      const job = await createFineTuningJob(client());
      await waitUntil(finished(tollgate, '/v1/fine_tuning/jobs', 0), { what: 'the job settled' });
      const tokens = estimateOf(tollgate, job.training_file).reduce((n, m) => n + m.maxTokens, 0) * 3;
      expect(tokens).toBeGreaterThan(0);
      expect(rowFor(tollgate, '/v1/fine_tuning/jobs', 0)).toMatchObject({
        status: 'settled',
        usage_source: 'estimated',
        metered_tokens: tokens,
        cost_micro_usd: Math.round(tokens * 3), // $3 / 1M training tokens
      });
    } finally {
      fake.trainedTokens = 12_345;
    }
  });
});

describe('a background response', () => {
  let bg: BackgroundUpstream;
  let t: Tollgate;
  /** Status answered to retrieves of these ids instead of the object. */
  const failing = new Map<string, number>();

  beforeAll(async () => {
    bg = await new BackgroundUpstream().start();
    const answer = bg.script;
    bg.script = (req, res) => {
      const id = /^\/v1\/responses\/([^/]+)$/.exec(new URL(req.url, 'http://x').pathname)?.[1];
      const status = req.method === 'GET' && id ? failing.get(id) : undefined;
      if (status === undefined) return answer(req, res);
      json(res, status, { error: { message: 'no', type: 'server_error', param: null, code: null } });
    };
    t = await startTollgate({ upstreamUrl: bg.url, settlement: SETTLEMENT, clock });
  });
  afterAll(async () => {
    await t.close();
    await bg.close();
  });

  const create = async () => {
    const r = (await t.client().responses.create({
      model: 'gpt-4o-mini',
      input: 'Write a haiku',
      background: true,
      max_output_tokens: 100,
    } as never)) as unknown as { id: string };
    await waitUntil(() => t.query('SELECT 1 FROM deferred_objects WHERE object_id = ?', r.id).length === 1, {
      what: 'the response deferred',
    });
    return r.id;
  };
  const rowOf = (id: string) =>
    t.query('SELECT r.* FROM requests r JOIN billed_objects b ON b.request_id = r.id WHERE b.object_id = ?', id)[0];

  it('answered 503 until its deadline: charged its counted prompt, upstream_object_unresolved', async () => {
    const id = await create();
    failing.set(id, 503);
    await waitUntil(() => bg.calls('GET', new RegExp(`/${id}$`)) >= 3, { what: 'three polls answered 503' });
    offset += 25 * HOUR;
    await waitUntil(() => rowOf(id) !== undefined, { what: 'the response resolved at its deadline' });
    const row = rowOf(id)!;
    expect(row).toMatchObject({
      status: 'settled',
      http_status: 504,
      usage_source: 'estimated',
      error_code: 'upstream_object_unresolved',
    });
    expect(row.metered_tokens).toBe(row.estimated_prompt_tokens);
    expect(row.metered_tokens).toBeGreaterThan(0);
  });

  it('answered 410 Gone: settled as gone after consecutive misses', async () => {
    const id = await create();
    failing.set(id, 410);
    await waitUntil(() => rowOf(id) !== undefined, { what: 'the response settled as gone' });
    expect(rowOf(id)).toMatchObject({ status: 'settled', http_status: 404, error_code: 'upstream_object_gone' });
    expect(bg.calls('GET', new RegExp(`/${id}$`))).toBe(3);
  });
});
