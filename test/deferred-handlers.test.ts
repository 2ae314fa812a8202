import { describe, expect, it } from 'vitest';
import { NO_TOKENS } from '../src/metering/usage.js';
import { PriceBook, costNanoUsd } from '../src/pricing/price.js';
import { OBJECT_UNRESOLVED } from '../src/settlement/handler.js';
import { fineTuningHandler } from '../src/settlement/handlers/fine-tuning.js';
import { responseHandler } from '../src/settlement/handlers/response.js';
import { videoHandler } from '../src/settlement/handlers/video.js';
import { fakeReader, inputFile, readWith } from './support/read-context.js';

/**
 * The fine-tuning job, video and background response handlers, one ending at a time (the batch
 * handler's are in deferred-batch.test.ts): what each final or overdue object is charged.
 */

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
      expect(await readWith(fineTuningHandler, { ...job, status }, reader)).toEqual({ final: false, status });
    expect(fineTuningHandler.retrievePath('ftjob-abc')).toBe('/v1/fine_tuning/jobs/ftjob-abc');
  });

  it('charges a succeeded job its trained_tokens at the training price', async () => {
    const state = await readWith(
      fineTuningHandler,
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
    expect(
      await readWith(fineTuningHandler, { ...job, status: 'cancelled', trained_tokens: 500 }, reader),
    ).toMatchObject({
      final: true,
      charge: { status: 'cancelled', usage: { trainedTokens: 500 }, errorCode: 'fine_tuning_cancelled' },
    });
    const failed = await readWith(
      fineTuningHandler,
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
  it('estimates a job that succeeded without trained_tokens: its training file × its epochs', async () => {
    const files = { 'file-abc': inputFile({ 'gpt-4o-mini-2024-07-18': [10, 2_000, 2_000] }, 'fine-tune') };
    const state = await readWith(fineTuningHandler, { ...job, status: 'succeeded' }, reader, { files });
    expect(state).toEqual({
      final: true,
      charge: {
        status: 'succeeded',
        model: 'gpt-4o-mini-2024-07-18',
        usageSource: 'estimated',
        usage: { ...NO_TOKENS, trainedTokens: 6_000, totalTokens: 6_000 },
      },
    });
    // "auto" epochs: OpenAI's rule for 10 examples (10 epochs, so that 100 examples are trained).
    const auto = await readWith(
      fineTuningHandler,
      { ...job, status: 'succeeded', hyperparameters: { n_epochs: 'auto' } },
      reader,
      { files },
    );
    expect(auto).toMatchObject({ charge: { usage: { trainedTokens: 20_000 } } });
  });

  it('a job still running (or paused) at its deadline is charged its estimate, unresolved; a failed one without tokens is voided', async () => {
    const files = { 'file-abc': inputFile({ 'gpt-4o-mini-2024-07-18': [10, 2_000, 2_000] }, 'fine-tune') };
    for (const status of ['running', 'paused']) {
      expect(await readWith(fineTuningHandler, { ...job, status }, reader, { files })).toEqual({
        final: false,
        status,
      });
      expect(await readWith(fineTuningHandler, { ...job, status }, reader, { files, overdue: true })).toMatchObject({
        final: true,
        charge: { status, usage: { trainedTokens: 6_000 }, usageSource: 'estimated', errorCode: OBJECT_UNRESOLVED },
      });
    }
    // A training file tollgate never read (another company's, say): nothing to estimate, voided.
    expect(await readWith(fineTuningHandler, { ...job, status: 'running' }, reader, { overdue: true })).toEqual({
      final: true,
      charge: {
        status: 'running',
        model: 'gpt-4o-mini-2024-07-18',
        usageSource: 'estimated',
        errorCode: OBJECT_UNRESOLVED,
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
      expect(await readWith(videoHandler, { ...video, status }, reader)).toEqual({ final: false, status });
    expect(videoHandler.retrievePath('video_123')).toBe('/v1/videos/video_123');
  });

  it('charges a completed video its seconds at the per-second price of its size', async () => {
    const state = await readWith(videoHandler, { ...video, status: 'completed', progress: 100 }, reader);
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
      await readWith(
        videoHandler,
        { ...video, status: 'failed', error: { code: 'moderation_blocked', message: 'no' } },
        reader,
      ),
    ).toEqual({
      final: true,
      charge: { status: 'failed', model: 'sora-2-pro', usageSource: 'computed', errorCode: 'moderation_blocked' },
    });
  });
});

describe('video handler at its deadline', () => {
  it('voids a video still pending: a video is billed only once delivered', async () => {
    const pending = { id: 'video_1', object: 'video', model: 'sora-2', status: 'in_progress', seconds: '8' };
    expect(await readWith(videoHandler, pending, fakeReader({}), { overdue: true })).toEqual({
      final: true,
      charge: { status: 'in_progress', model: 'sora-2', usageSource: 'computed', errorCode: OBJECT_UNRESOLVED },
    });
  });
});

describe('response handler', () => {
  const response = {
    id: 'resp_1',
    object: 'response',
    model: 'gpt-4o-mini-2024-07-18',
    status: 'queued',
    usage: null,
    output: [] as unknown[],
    service_tier: 'default',
  };
  const said = (text: string) => [
    { type: 'reasoning', id: 'rs_1', summary: [] },
    { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] },
  ];
  const done = { input_tokens: 12, output_tokens: 40, total_tokens: 52 };
  const row = { kind: 'response' as const, model: 'gpt-4o-mini', promptTokens: 12 };

  it('is not final while queued or in progress (or with no status), and charges its usage once final', async () => {
    for (const status of ['queued', 'in_progress', undefined])
      expect((await readWith(responseHandler, { ...response, status }, fakeReader({}), { row })).final).toBe(false);
    expect(responseHandler.retrievePath('resp_1')).toBe('/v1/responses/resp_1');
    for (const status of ['completed', 'incomplete', 'cancelled', 'failed'])
      expect(
        await readWith(responseHandler, { ...response, status, usage: done }, fakeReader({}), { row }),
      ).toMatchObject({
        final: true,
        charge: {
          status,
          usage: { inputTokens: 12, outputTokens: 40 },
          usageSource: 'upstream',
          errorCode:
            status === 'completed' ? undefined : status === 'failed' ? 'response_failed' : `response_${status}`,
        },
      });
  });

  it('voids a failed or cancelled response without usage; estimates a completed or incomplete one without usage', async () => {
    for (const status of ['failed', 'cancelled']) {
      const state = await readWith(responseHandler, { ...response, status }, fakeReader({}), { row });
      expect(state.final && state.charge.usage).toBe(undefined);
    }
    for (const status of ['completed', 'incomplete'])
      expect(
        await readWith(
          responseHandler,
          { ...response, status, output: said('hello there, toll gate') },
          fakeReader({}),
          {
            row,
          },
        ),
      ).toMatchObject({
        final: true,
        // The counted prompt (12) plus the output text's tokens ("hello there, toll gate": 5).
        charge: { status, usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 }, usageSource: 'estimated' },
      });
  });

  it('still pending at its deadline: what it reports so far, else its counted prompt, unresolved', async () => {
    expect(await readWith(responseHandler, response, fakeReader({}), { row, overdue: true })).toMatchObject({
      final: true,
      charge: {
        status: 'queued',
        usage: { inputTokens: 12, totalTokens: 12 },
        usageSource: 'estimated',
        errorCode: OBJECT_UNRESOLVED,
      },
    });
    const partial = {
      ...response,
      status: 'in_progress',
      usage: { input_tokens: 12, output_tokens: 3, total_tokens: 15 },
    };
    expect(await readWith(responseHandler, partial, fakeReader({}), { row, overdue: true })).toMatchObject({
      final: true,
      charge: { usage: { totalTokens: 15 }, usageSource: 'upstream', errorCode: OBJECT_UNRESOLVED },
    });
  });
});
