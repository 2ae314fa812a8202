import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PriceBook, costNanoUsd } from '../src/pricing/price.js';
import { batchHandler, outputUsageByModel } from '../src/settlement/handlers/batch.js';
import { fineTuningHandler } from '../src/settlement/handlers/fine-tuning.js';
import { videoHandler } from '../src/settlement/handlers/video.js';
import type { UpstreamReader } from '../src/settlement/kinds.js';

import { FIXTURES_DIR } from './support/fixtures.js';

/** The recordings of deferred work, beside the main recordings. */
const DEFERRED = join(FIXTURES_DIR, '../openai-recorded-deferred');
/** The upstream's answer body of a recording in openai-recorded-deferred. */
const recorded = (name: string) =>
  (JSON.parse(readFileSync(join(DEFERRED, name), 'utf8')) as { response: { body: Record<string, unknown> } }).response
    .body;

/** An UpstreamReader serving files from a map, recording every path asked for. */
function fakeReader(files: Record<string, string>): UpstreamReader & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async get(path) {
      asked.push(path);
      const id = /^\/v1\/files\/([^/]+)\/content$/.exec(path)?.[1];
      return id && id in files ? { status: 200, text: files[id]! } : { status: 404, text: '{}' };
    },
  };
}

const usage = (input: number, output: number, cached = 0) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: input + output,
});
/** One line of a batch output file (the Batch guide's shape). */
const outputLine = (i: number, model: string, u: unknown) =>
  JSON.stringify({
    id: `batch_req_${i}`,
    custom_id: `request-${i}`,
    response: {
      status_code: 200,
      request_id: `req_${i}`,
      body: { id: `chatcmpl-${i}`, object: 'chat.completion', model, usage: u },
    },
    error: null,
  });
const failedLine = (i: number) =>
  JSON.stringify({
    id: `batch_req_${i}`,
    custom_id: `request-${i}`,
    response: null,
    error: { code: 'x', message: 'y' },
  });

describe('batch handler', () => {
  const base = recorded('batch-create-01.json');

  it('reads the recorded batch (validating, zero usage, model null) as not final', async () => {
    expect(base.status).toBe('validating');
    const reader = fakeReader({});
    expect(await batchHandler.read(base, reader)).toEqual({ final: false, status: 'validating' });
    for (const status of ['in_progress', 'finalizing', 'cancelling'])
      expect((await batchHandler.read({ ...base, status }, reader)).final).toBe(false);
    expect(reader.asked).toEqual([]);
    expect(batchHandler.retrievePath('batch_abc')).toBe('/v1/batches/batch_abc');
  });

  it('charges a completed batch its reported usage at batch prices when it names its model', async () => {
    const state = await batchHandler.read(
      { ...base, status: 'completed', model: 'gpt-4o-mini', usage: usage(1000, 200, 100) },
      fakeReader({}),
    );
    expect(state).toEqual({
      final: true,
      charge: {
        status: 'completed',
        model: 'gpt-4o-mini',
        usageSource: 'upstream',
        usage: {
          inputTokens: 1000,
          cachedInputTokens: 100,
          outputTokens: 200,
          reasoningTokens: 0,
          totalTokens: 1200,
          batch: true,
        },
      },
    });
  });

  it('sums the output file when the batch reports no usage (one model)', async () => {
    const file = [
      outputLine(1, 'gpt-4o-mini-2024-07-18', usage(10, 5)),
      failedLine(2),
      'not json',
      outputLine(3, 'gpt-4o-mini-2024-07-18', usage(20, 7, 4)),
      '',
    ].join('\n');
    const reader = fakeReader({ 'file-out': file });
    const { usage: _u, ...noUsage } = base;
    const state = await batchHandler.read({ ...noUsage, status: 'completed', output_file_id: 'file-out' }, reader);
    expect(reader.asked).toEqual(['/v1/files/file-out/content']);
    expect(state).toMatchObject({
      final: true,
      charge: {
        status: 'completed',
        model: 'gpt-4o-mini-2024-07-18',
        usage: { inputTokens: 30, cachedInputTokens: 4, outputTokens: 12, totalTokens: 42, batch: true },
      },
    });
    expect((state as { charge: { parts?: unknown } }).charge.parts).toBeUndefined();
  });

  it('prices each model apart when the lines name several (parts), model null on the batch', async () => {
    const file = [
      outputLine(1, 'gpt-4o', usage(100, 50)),
      outputLine(2, 'gpt-4o-mini', usage(1000, 10)),
      outputLine(3, 'gpt-4o', usage(1, 1)),
    ].join('\n');
    const state = await batchHandler.read(
      { ...base, status: 'completed', usage: usage(1101, 61), output_file_id: 'f' },
      fakeReader({ f: file }),
    );
    if (!state.final) throw new Error('expected final');
    const c = state.charge;
    expect(c.model).toBe('gpt-4o-mini'); // the largest part
    expect(c.usage).toMatchObject({ inputTokens: 1101, outputTokens: 61, totalTokens: 1162, batch: true });
    expect(c.parts).toEqual([
      { model: 'gpt-4o-mini', usage: expect.objectContaining({ inputTokens: 1000, outputTokens: 10, batch: true }) },
      { model: 'gpt-4o', usage: expect.objectContaining({ inputTokens: 101, outputTokens: 51, batch: true }) },
    ]);
    // Each part at its own price, with the batch discount: gpt-4o 101 in × $2.5 + 51 out × $10, halved.
    const book = new PriceBook({});
    const at = (m: string) => book.find(m, new Date('2026-11-30T00:00:00Z'))!.price;
    expect(costNanoUsd(c.parts![1]!.usage, at('gpt-4o'))).toBe(Math.round(((101 * 2.5 + 51 * 10) / 2) * 1000));
  });

  it('charges a cancelled batch what completed, and voids a failed batch that did nothing', async () => {
    const cancelled = await batchHandler.read(
      {
        ...base,
        status: 'cancelled',
        usage: null,
        output_file_id: 'f',
        request_counts: { total: 4, completed: 1, failed: 0 },
      },
      fakeReader({ f: outputLine(1, 'gpt-4o-mini', usage(7, 3)) }),
    );
    expect(cancelled).toMatchObject({
      final: true,
      charge: {
        status: 'cancelled',
        model: 'gpt-4o-mini',
        usage: { totalTokens: 10, batch: true },
        errorCode: 'batch_cancelled',
      },
    });
    const failed = await batchHandler.read(
      { ...base, status: 'failed', errors: { object: 'list', data: [{ code: 'invalid_json_line', line: 1 }] } },
      fakeReader({}),
    );
    expect(failed).toEqual({
      final: true,
      charge: { status: 'failed', usageSource: 'upstream', errorCode: 'invalid_json_line' },
    });
    const expired = await batchHandler.read({ ...base, status: 'expired' }, fakeReader({}));
    expect(expired).toEqual({
      final: true,
      charge: { status: 'expired', usageSource: 'upstream', errorCode: 'batch_expired' },
    });
  });

  it('throws when the output file cannot be read, so the settler retries', async () => {
    await expect(
      batchHandler.read({ ...base, status: 'completed', usage: null, output_file_id: 'gone' }, fakeReader({})),
    ).rejects.toThrow(/404/);
  });

  it('sums an output file line by line per model', () => {
    const m = outputUsageByModel(
      [outputLine(1, 'a', usage(1, 1)), outputLine(2, 'b', usage(2, 2)), outputLine(3, 'a', usage(3, 3))].join('\n'),
    );
    expect([...m.keys()]).toEqual(['a', 'b']);
    expect(m.get('a')!.totalTokens).toBe(8);
  });
});

describe('fine_tuning.job handler', () => {
  const job = {
    object: 'fine_tuning.job',
    id: 'ftjob-abc',
    model: 'gpt-4o-mini-2024-07-18',
    created_at: 1721764800,
    fine_tuned_model: null,
    organization_id: 'org-123',
    result_files: [],
    status: 'queued',
    validation_file: null,
    training_file: 'file-abc',
    hyperparameters: { n_epochs: 3 },
    trained_tokens: null,
    error: null,
  };
  const reader = fakeReader({});

  it('is not final while validating, queued or running', async () => {
    for (const status of ['validating_files', 'queued', 'running'])
      expect(await fineTuningHandler.read({ ...job, status }, reader)).toEqual({ final: false, status });
    expect(fineTuningHandler.retrievePath('ftjob-abc')).toBe('/v1/fine_tuning/jobs/ftjob-abc');
  });

  it('charges a succeeded job its trained_tokens at the training price', async () => {
    const state = await fineTuningHandler.read(
      { ...job, status: 'succeeded', trained_tokens: 30_000, fine_tuned_model: 'ft:gpt-4o-mini-2024-07-18:org::x' },
      reader,
    );
    expect(state).toEqual({
      final: true,
      charge: {
        status: 'succeeded',
        model: 'gpt-4o-mini-2024-07-18',
        usageSource: 'upstream',
        usage: {
          inputTokens: 0,
          cachedInputTokens: 0,
          outputTokens: 0,
          reasoningTokens: 0,
          totalTokens: 30_000,
          trainedTokens: 30_000,
        },
      },
    });
    if (!state.final) throw new Error('final');
    const price = new PriceBook({}).find('gpt-4o-mini-2024-07-18', new Date('2026-11-30T00:00:00Z'))!.price;
    expect(costNanoUsd(state.charge.usage!, price)).toBe(90_000_000); // 30,000 × $3 / 1M = $0.09
  });

  it('charges a cancelled job what it trained, and voids a failed job that trained nothing', async () => {
    expect(await fineTuningHandler.read({ ...job, status: 'cancelled', trained_tokens: 500 }, reader)).toMatchObject({
      final: true,
      charge: { status: 'cancelled', usage: { trainedTokens: 500 }, errorCode: 'fine_tuning_cancelled' },
    });
    const failed = await fineTuningHandler.read(
      { ...job, status: 'failed', error: { code: 'invalid_training_file', message: 'bad', param: 'training_file' } },
      reader,
    );
    expect(failed).toEqual({
      final: true,
      charge: {
        status: 'failed',
        model: 'gpt-4o-mini-2024-07-18',
        usageSource: 'upstream',
        errorCode: 'invalid_training_file',
      },
    });
  });
});

describe('video handler', () => {
  const video = {
    id: 'video_123',
    object: 'video',
    model: 'sora-2-pro',
    status: 'queued',
    progress: 0,
    created_at: 1712697600,
    size: '1792x1024',
    seconds: '8',
    quality: 'standard',
  };
  const reader = fakeReader({});

  it('is not final while queued or in progress', async () => {
    for (const status of ['queued', 'in_progress'])
      expect(await videoHandler.read({ ...video, status }, reader)).toEqual({ final: false, status });
    expect(videoHandler.retrievePath('video_123')).toBe('/v1/videos/video_123');
  });

  it('charges a completed video its seconds at the per-second price of its size', async () => {
    const state = await videoHandler.read({ ...video, status: 'completed', progress: 100 }, reader);
    expect(state).toMatchObject({
      final: true,
      charge: {
        status: 'completed',
        model: 'sora-2-pro',
        usage: { videoSeconds: 8, videoSize: '1792x1024', totalTokens: 0 },
        usageSource: 'computed',
      },
    });
    if (!state.final) throw new Error('final');
    const book = new PriceBook({});
    const at = new Date('2026-11-30T00:00:00Z');
    expect(costNanoUsd(state.charge.usage!, book.find('sora-2-pro', at)!.price)).toBe(4_000_000_000); // 8 s × $0.50
    expect(costNanoUsd({ ...state.charge.usage!, videoSize: '720x1280' }, book.find('sora-2-pro', at)!.price)).toBe(
      2_400_000_000,
    );
    expect(costNanoUsd({ ...state.charge.usage!, videoSize: '__proto__' }, book.find('sora-2', at)!.price)).toBe(
      800_000_000,
    );
  });

  it('voids a failed video', async () => {
    expect(
      await videoHandler.read(
        { ...video, status: 'failed', error: { code: 'moderation_blocked', message: 'no' } },
        reader,
      ),
    ).toEqual({
      final: true,
      charge: { status: 'failed', model: 'sora-2-pro', usageSource: 'computed', errorCode: 'moderation_blocked' },
    });
  });
});
