import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchHandler } from '../src/settlement/handlers/batch.js';
import { fineTuningHandler } from '../src/settlement/handlers/fine-tuning.js';
import { videoHandler } from '../src/settlement/handlers/video.js';
import type { DeferredHandler } from '../src/settlement/handler.js';
import type { ObjectState, UpstreamReader } from '../src/settlement/kinds.js';
import {
  batchLine,
  createBatch,
  createFineTuningJob,
  type DeferredSetup,
  startDeferredTollgate,
} from './support/batches.js';
import type { DeferredUpstream } from './support/deferred-upstream.js';
import { type Tollgate, UPSTREAM_KEY } from './support/harness.js';
import { readWith } from './support/read-context.js';
import type { ScriptedUpstream } from './support/scripted-upstream.js';

/**
 * Deferred work from creation to its final charge: objects created through tollgate (held), then
 * retrieved upstream and read by their kind's handler, as the settler does, over real HTTP against
 * a fake upstream that moves each object one status per retrieval.
 */

let setup: DeferredSetup;
let upstream: ScriptedUpstream;
let fake: DeferredUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  // This file polls the objects itself: the settler's first poll is an hour away.
  setup = await startDeferredTollgate({ firstPollMs: 3_600_000, maxPollMs: 3_600_000 });
  ({ upstream, fake, tollgate } = setup);
});
afterAll(() => setup.close());

/** The settler's reader: GETs from the upstream with tollgate's own key. */
const reader: UpstreamReader = {
  async get(path) {
    const res = await fetch(`${upstream.url}${path}`, { headers: { authorization: `Bearer ${UPSTREAM_KEY}` } });
    return { status: res.status, text: await res.text() };
  },
};

/** Polls `id` with its handler until final, as the settler would; fails after 10 polls. */
async function untilFinal(handler: DeferredHandler, id: string): Promise<{ statuses: string[]; state: ObjectState }> {
  const statuses: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await reader.get(handler.retrievePath(id));
    expect(res.status).toBe(200);
    const state = await readWith(handler, JSON.parse(res.text) as Record<string, unknown>, reader);
    statuses.push(state.final ? state.charge.status : state.status);
    if (state.final) return { statuses, state };
  }
  throw new Error(`${id} never became final: ${statuses.join(' → ')}`);
}

const client = () => tollgate.client();
/** One poll of a batch: its status as the handler reads it. */
const pollOnce = async (id: string) => {
  const res = await reader.get(batchHandler.retrievePath(id));
  const state = await readWith(batchHandler, JSON.parse(res.text) as Record<string, unknown>, reader);
  return state.final ? state.charge.status : state.status;
};
const batchOf = (lines: string[]) => createBatch(client(), lines);

describe('a batch from creation to its charge', () => {
  it('completes: charged its reported usage at batch prices', async () => {
    fake.reportBatchUsage = true;
    const batch = await batchOf([0, 1, 2, 3].map((i) => batchLine(i, 'gpt-4o-mini')));
    const { statuses, state } = await untilFinal(batchHandler, batch.id);
    expect(statuses).toEqual(['in_progress', 'finalizing', 'completed']);
    expect(state).toMatchObject({
      final: true,
      charge: {
        status: 'completed',
        model: 'gpt-4o-mini',
        usage: { inputTokens: 40, outputTokens: 20, totalTokens: 60, batch: true },
      },
    });
  });

  it('cancelled halfway: charged the half that was done, from its output file when it reports no usage', async () => {
    fake.reportBatchUsage = false;
    const batch = await batchOf([0, 1, 2, 3, 4, 5].map((i) => batchLine(i, i % 2 ? 'gpt-4o' : 'gpt-4o-mini')));
    expect(await pollOnce(batch.id)).toBe('in_progress');
    expect((await client().batches.cancel(batch.id)).status).toBe('cancelling');
    const { statuses, state } = await untilFinal(batchHandler, batch.id);
    expect(statuses).toEqual(['cancelled']);
    if (!state.final) throw new Error('final');
    expect(state.charge).toMatchObject({
      status: 'cancelled',
      errorCode: 'batch_cancelled',
      usage: { totalTokens: 45, batch: true },
    });
    expect(state.charge.parts?.map((p) => [p.model, p.usage.totalTokens]).sort()).toEqual([
      ['gpt-4o', 15],
      ['gpt-4o-mini', 30],
    ]);
  });
});

describe('a fine-tuning job and a video from creation to their charge', () => {
  it('a job that succeeds is charged its trained_tokens', async () => {
    const job = await createFineTuningJob(client());
    const { statuses, state } = await untilFinal(fineTuningHandler, job.id);
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    expect(state).toMatchObject({
      final: true,
      charge: { status: 'succeeded', model: 'gpt-4o-mini', usage: { trainedTokens: 12_345 } },
    });
  });

  it('a video that completes is charged its seconds; one that fails nothing', async () => {
    const ok = await client().videos.create({ prompt: 'a toll gate', seconds: '8' });
    expect(await untilFinal(videoHandler, ok.id)).toMatchObject({
      statuses: ['in_progress', 'completed'],
      state: {
        final: true,
        charge: { status: 'completed', model: 'sora-2', usage: { videoSeconds: 8, videoSize: '720x1280' } },
      },
    });
    const failed = await client().videos.create({ prompt: 'please fail' });
    const { state } = await untilFinal(videoHandler, failed.id);
    expect(state).toEqual({
      final: true,
      charge: { status: 'failed', model: 'sora-2', usageSource: 'computed', errorCode: 'moderation_blocked' },
    });
  });
});
