import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_TOKENS } from '../src/metering/usage.js';
import { PriceBook, costNanoUsd } from '../src/pricing/price.js';
import { OBJECT_UNRESOLVED } from '../src/settlement/handler.js';
import { batchHandler, OUTPUT_UNREADABLE, outputUsageByModel } from '../src/settlement/handlers/batch.js';
import { splitUsage } from '../src/settlement/handlers/usage-sum.js';
import { BodyTooLarge } from '../src/settlement/kinds.js';
import { FIXTURES_DIR } from './support/fixtures.js';
import { fakeReader, inputFile, readWith } from './support/read-context.js';

/**
 * The batch handler, one ending at a time: what a final (or overdue) batch is charged from its
 * usage, its output file, or tollgate's estimate of its input file, and which file reads it retries.
 */

/** The recordings of deferred work, beside the main recordings. */
const DEFERRED = join(FIXTURES_DIR, '../openai-recorded-deferred');
/** The upstream's answer body of a recording in openai-recorded-deferred. */
const recorded = (name: string) =>
  (JSON.parse(readFileSync(join(DEFERRED, name), 'utf8')) as { response: { body: Record<string, unknown> } }).response
    .body;

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
    expect(await readWith(batchHandler, base, reader)).toEqual({ final: false, status: 'validating' });
    for (const status of ['in_progress', 'finalizing', 'cancelling'])
      expect((await readWith(batchHandler, { ...base, status }, reader)).final).toBe(false);
    expect(reader.asked).toEqual([]);
    expect(batchHandler.retrievePath('batch_abc')).toBe('/v1/batches/batch_abc');
  });

  it('charges a completed batch its reported usage at batch prices when it names its model', async () => {
    const state = await readWith(
      batchHandler,
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
    const state = await readWith(batchHandler, { ...noUsage, status: 'completed', output_file_id: 'file-out' }, reader);
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
    const state = await readWith(
      batchHandler,
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
    const cancelled = await readWith(
      batchHandler,
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
    const failed = await readWith(
      batchHandler,
      { ...base, status: 'failed', errors: { object: 'list', data: [{ code: 'invalid_json_line', line: 1 }] } },
      fakeReader({}),
    );
    expect(failed).toEqual({
      final: true,
      charge: { status: 'failed', usageSource: 'upstream', errorCode: 'invalid_json_line' },
    });
    const expired = await readWith(batchHandler, { ...base, status: 'expired' }, fakeReader({}));
    expect(expired).toEqual({
      final: true,
      charge: { status: 'expired', usageSource: 'upstream', errorCode: 'batch_expired' },
    });
  });

  it('never reads the output file when the usage and the model are known: a gone file changes nothing', async () => {
    const reader = fakeReader({});
    const done = { ...base, status: 'completed', usage: usage(1000, 200), output_file_id: 'gone' };
    // The batch names no model (a /v1/responses batch), the row does (every line named gpt-4o-mini).
    const state = await readWith(batchHandler, done, reader, { row: { model: 'gpt-4o-mini' } });
    expect(reader.asked).toEqual([]);
    expect(state).toMatchObject({
      final: true,
      charge: { model: 'gpt-4o-mini', usageSource: 'upstream', usage: { totalTokens: 1200, batch: true } },
    });
  });

  it("shares a multi-model batch's usage over the input file's models when its output file is gone", async () => {
    const reader = fakeReader({ gone: 410 });
    const state = await readWith(
      batchHandler,
      { ...base, status: 'completed', usage: usage(1000, 200), output_file_id: 'gone', input_file_id: 'in' },
      reader,
      { files: { in: inputFile({ 'gpt-4o': [1, 250, 300], 'gpt-4o-mini': [1, 80, 100] }) } },
    );
    expect(reader.asked).toEqual(['/v1/files/gone/content']);
    if (!state.final) throw new Error('final');
    expect(state.charge).toMatchObject({ usageSource: 'upstream', model: 'gpt-4o', usage: { totalTokens: 1200 } });
    expect(state.charge.parts?.map((p) => [p.model, p.usage.inputTokens, p.usage.outputTokens])).toEqual([
      ['gpt-4o', 750, 150],
      ['gpt-4o-mini', 250, 50],
    ]);
  });

  it("without usage and with its output file gone for good (404, 410, 403, too large): the input's counted prompt × the share completed, estimated", async () => {
    const finished = {
      ...base,
      status: 'completed',
      usage: null,
      output_file_id: 'out',
      input_file_id: 'in',
      request_counts: { total: 4, completed: 3, failed: 1 },
    };
    const files = { in: inputFile({ 'gpt-4o-mini': [4, 400, 480] }) };
    for (const answer of [404, 410, 403, new BodyTooLarge('/v1/files/out/content', 1)]) {
      const state = await readWith(batchHandler, finished, fakeReader({ out: answer }), { files });
      expect(state, String(answer)).toEqual({
        final: true,
        charge: {
          status: 'completed',
          model: 'gpt-4o-mini',
          usage: { ...NO_TOKENS, inputTokens: 300, totalTokens: 300, batch: true },
          usageSource: 'estimated',
          errorCode: OUTPUT_UNREADABLE,
        },
      });
    }
    // Completed requests but no output file named: the same estimate.
    const noFile = await readWith(batchHandler, { ...finished, output_file_id: null }, fakeReader({}), { files });
    expect(noFile).toMatchObject({ final: true, charge: { usage: { inputTokens: 300 }, usageSource: 'estimated' } });
  });

  it('a read failing for a moment (5xx, 429, network) throws so the settler retries; at the deadline it counts as failed for good', async () => {
    const finished = { ...base, status: 'completed', usage: null, output_file_id: 'out', input_file_id: 'in' };
    const files = { in: inputFile({ 'gpt-4o-mini': [2, 100, 140] }) };
    for (const answer of [500, 503, 429, new Error('ECONNRESET')]) {
      await expect(readWith(batchHandler, finished, fakeReader({ out: answer }), { files })).rejects.toThrow();
      const late = await readWith(batchHandler, finished, fakeReader({ out: answer }), { files, overdue: true });
      expect(late).toMatchObject({
        final: true,
        charge: { usage: { inputTokens: 100 }, usageSource: 'estimated', errorCode: OUTPUT_UNREADABLE },
      });
    }
  });

  it('still pending at its deadline: charged what it reports so far, or voided when it did nothing', async () => {
    const running = { ...base, status: 'in_progress', model: 'gpt-4o-mini', usage: usage(100, 10) };
    expect(await readWith(batchHandler, running, fakeReader({}))).toEqual({ final: false, status: 'in_progress' });
    expect(await readWith(batchHandler, running, fakeReader({}), { overdue: true })).toMatchObject({
      final: true,
      charge: {
        status: 'in_progress',
        usage: { totalTokens: 110 },
        usageSource: 'upstream',
        errorCode: OBJECT_UNRESOLVED,
      },
    });
    expect(await readWith(batchHandler, base, fakeReader({}), { overdue: true })).toEqual({
      final: true,
      charge: { status: 'validating', usageSource: 'upstream', errorCode: OBJECT_UNRESOLVED },
    });
  });

  it('sums an output file line by line per model', () => {
    const m = outputUsageByModel(
      [outputLine(1, 'a', usage(1, 1)), outputLine(2, 'b', usage(2, 2)), outputLine(3, 'a', usage(3, 3))].join('\n'),
    );
    expect([...m.keys()]).toEqual(['a', 'b']);
    expect(m.get('a')!.totalTokens).toBe(8);
  });
});

describe('splitUsage', () => {
  it('shares every field out in integers that add up to the whole, in proportion to the weights', () => {
    fc.assert(
      fc.property(
        fc.nat(1e9),
        fc.nat(1e9),
        fc.array(fc.nat(1e6), { minLength: 1, maxLength: 6 }),
        (input, output, weights) => {
          const whole = { ...NO_TOKENS, inputTokens: input, outputTokens: output, totalTokens: input + output };
          const parts = splitUsage(whole, weights);
          const sum = weights.reduce((a, b) => a + b, 0);
          for (const k of ['inputTokens', 'outputTokens', 'totalTokens'] as const) {
            expect(parts.reduce((n, p) => n + p[k], 0)).toBe(whole[k]);
            parts.forEach((p, i) => {
              expect(Number.isInteger(p[k])).toBe(true);
              const share = sum > 0 ? (whole[k] * weights[i]!) / sum : whole[k] / weights.length;
              expect(Math.abs(p[k] - share)).toBeLessThan(1);
            });
          }
        },
      ),
    );
  });
});
