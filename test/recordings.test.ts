import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseUsage } from '../src/metering/usage.js';
import { costMicroUsd, costNanoUsd, priceBook } from '../src/pricing/price.js';
import { toolFeesNano, toolPlanOf } from '../src/pricing/tool-fees.js';
import { recordedServiceTier, recordedToolCalls } from './support/recorded-billing.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings, sseData, type Recording } from './support/fixtures.js';
import { startTollgate, TEST_PRICES, UPSTREAM_KEY, type Tollgate } from './support/harness.js';

/**
 * Every recorded OpenAI exchange, replayed by a fake upstream and requested through tollgate by
 * the official SDK: the client must get what the recording holds, and the ledger row must carry the
 * recording's usage exactly.
 */
const recordings = loadRecordings();
const byName = new Map(recordings.map((r) => [r.name, r]));

let upstream: FakeUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new FakeUpstream(byName).start();
  // The recordings name files and jobs created elsewhere: the operator's key may see those.
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    unknownPaths: 'passthrough',
    objects: { unrecordedVisibleTo: ['acme-key'] },
    // gpt-3.5-turbo's training price, for the recorded fine-tuning job (OpenAI pricing page, 2023: $8 per 1M).
    prices: { 'gpt-3.5-turbo': { ...TEST_PRICES['gpt-3.5-turbo'], training: 8 } },
  });
  // A fine-tuning job is held on its training file's estimate, read when the file was uploaded through
  // tollgate: the recorded job's file, as if it had been (three examples of 100 tokens).
  for (const rec of recordings.filter((r) => r.request.path === '/v1/fine_tuning/jobs'))
    await tollgate.server.runtime.ledger.fileEstimates.record({
      fileId: (rec.request.body as { training_file: string }).training_file,
      companyId: 'acme',
      purpose: 'fine-tune',
      requestId: 'req_upload',
      createdAt: new Date().toISOString(),
      lines: 3,
      unusable: null,
      models: [{ model: 'gpt-4o-mini', lines: 3, promptTokens: 300, maxTokens: 300 }],
    });
});
afterAll(async () => {
  await tollgate?.close();
  await upstream?.close();
});
beforeEach(() => upstream.reset());

/** Sends the recording's request with the SDK; resolves to what the SDK returned (a stream is collected) or the APIError. */
async function send(client: OpenAI, rec: Recording): Promise<unknown> {
  const opts = { headers: { 'x-test-recording': rec.name } };
  const body = rec.request.body as never as Record<string, unknown>;
  const collect = async (s: AsyncIterable<unknown>) => {
    const out: unknown[] = [];
    for await (const x of s) out.push(x);
    return out;
  };
  try {
    switch (rec.request.path) {
      case '/v1/chat/completions':
        return body.stream
          ? await collect(
              (await client.chat.completions.create(body as never, opts)) as unknown as AsyncIterable<unknown>,
            )
          : await client.chat.completions.create(body as never, opts);
      case '/v1/completions':
        return body.stream
          ? await collect((await client.completions.create(body as never, opts)) as unknown as AsyncIterable<unknown>)
          : await client.completions.create(body as never, opts);
      case '/v1/responses':
        return body.stream
          ? await collect((await client.responses.create(body as never, opts)) as unknown as AsyncIterable<unknown>)
          : await client.responses.create(body as never, opts);
      case '/v1/embeddings':
        // Without an explicit encoding_format the SDK asks for base64 and decodes it itself.
        return await client.embeddings.create({ encoding_format: 'float', ...body } as never, opts);
      case '/v1/fine_tuning/jobs':
        return await client.fineTuning.jobs.create(body as never, opts);
      case '/v1/images/edits':
        return await client.images.edit(
          {
            model: 'gpt-image-1',
            prompt: 'Create a collage from these images',
            image: [
              await toFile(Buffer.from('png-a'), 'image.png', { type: 'image/png' }),
              await toFile(Buffer.from('png-b'), 'mask.png', { type: 'image/png' }),
            ],
          },
          opts,
        );
      case '/v1/audio/transcriptions':
        return await client.audio.transcriptions.create(
          {
            model: 'whisper-1',
            file: await toFile(Buffer.from('ID3 fake mp3'), 'audio_sample.mp3', { type: 'audio/mpeg' }),
          },
          opts,
        );
      default:
        throw new Error(`no SDK call mapped for ${rec.request.path}`);
    }
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
}

/** The usage a recording reports: its JSON body's `usage`, or the last usage in its SSE stream. */
function recordedUsage(rec: Recording) {
  if (rec.response.body_text === undefined)
    return parseUsage(
      (rec.response.body as { usage?: unknown } | undefined)?.usage,
      rec.request.path.startsWith('/v1/images/') ? 'image' : 'text',
    );
  let usage;
  for (const d of sseData(rec.response.body_text)) {
    if (!d.startsWith('{')) continue;
    const j = JSON.parse(d) as { usage?: unknown; response?: { usage?: unknown } };
    usage = parseUsage(j.usage) ?? parseUsage(j.response?.usage) ?? usage;
  }
  return usage;
}

const header = (rec: Recording, name: string) =>
  Object.entries(rec.response.headers).find(([k]) => k.toLowerCase() === name)?.[1];
const metered = new Set([
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/responses',
  '/v1/embeddings',
  '/v1/images/edits',
  '/v1/audio/transcriptions',
  '/v1/fine_tuning/jobs',
]);

describe('every recording through the SDK and tollgate', () => {
  it('has recordings to replay', () => {
    expect(recordings.length).toBeGreaterThanOrEqual(20);
  });

  for (const rec of recordings) {
    it(rec.name, async () => {
      const before = tollgate.rows().length;
      const result = await send(tollgate.client(), rec);

      // The client received what the recording holds.
      if (rec.response.status >= 400) {
        expect(result).toBeInstanceOf(OpenAI.APIError);
        const err = result as InstanceType<typeof OpenAI.APIError>;
        if (rec.response.status === 401 || rec.response.status === 403) {
          // The upstream refused tollgate's own key: the caller never sees that answer (it names the operator's key).
          expect(err.status).toBe(502);
          expect((err.error as { code?: string }).code).toBe('upstream_auth_failed');
          expect(JSON.stringify(err.error)).not.toContain('sk-');
        } else {
          expect(err.status).toBe(rec.response.status);
          expect(err.error).toEqual((rec.response.body as { error: unknown }).error);
        }
      } else if (rec.response.body_text !== undefined) {
        const expected = sseData(rec.response.body_text)
          .filter((d) => d !== '[DONE]')
          .map((d) => JSON.parse(d) as unknown);
        expect(result).toEqual(expected);
      } else {
        // The SDK adds `output_text` to Responses objects as a convenience; OpenAI does not send it.
        const { output_text: _added, ...received } = result as Record<string, unknown>;
        expect(rec.request.path === '/v1/responses' ? received : result).toEqual(rec.response.body);
      }

      // The upstream got exactly one request, with tollgate's upstream key and never the client's.
      expect(upstream.received).toHaveLength(1);
      const got = upstream.received[0]!;
      expect(got.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(got.headers)).not.toContain(tollgate.keys['acme-key']);

      // Exactly one ledger row, with the recording's usage to the token.
      await tollgate.settled();
      const rows = tollgate.rows();
      expect(rows).toHaveLength(before + 1);
      const row = rows.at(-1)!;
      expect(row.endpoint).toBe(rec.request.path);
      const authRefused = rec.response.status === 401 || rec.response.status === 403;
      expect(row.http_status).toBe(authRefused ? 502 : rec.response.status);
      expect(row.upstream_request_id).toBe(header(rec, 'x-request-id') ?? null);
      const usage = recordedUsage(rec);
      if (!metered.has(rec.request.path)) {
        expect(row).toMatchObject({ status: 'settled', usage_source: 'none', metered_tokens: 0, cost_micro_usd: 0 });
      } else if (rec.response.status >= 400) {
        const code = authRefused
          ? 'upstream_auth_failed'
          : (rec.response.body as { error: { code: string } }).error.code;
        expect(row).toMatchObject({
          status: 'voided',
          usage_source: 'none',
          metered_tokens: 0,
          cost_micro_usd: 0,
          error_code: code,
        });
      } else if (usage) {
        const { price } = priceBook(tollgate.server.runtime.config).find(String(row.requested_model), new Date())!;
        const fees = toolFeesNano(
          String(row.requested_model),
          toolPlanOf(String(row.requested_model), rec.request.body ?? {}),
          recordedToolCalls(rec),
        );
        expect(row).toMatchObject({
          status: 'settled',
          usage_source: 'upstream',
          input_tokens: usage.inputTokens,
          cached_input_tokens: usage.cachedInputTokens,
          output_tokens: usage.outputTokens,
          reasoning_tokens: usage.reasoningTokens,
          total_tokens: usage.totalTokens,
          metered_tokens: usage.totalTokens,
          // At the service tier the response reports, plus its built-in tool calls' fees (see accuracy.test.ts for the figures).
          cost_micro_usd: costMicroUsd(usage, price, recordedServiceTier(rec), fees),
          cost_nano_usd: costNanoUsd(usage, price, recordedServiceTier(rec), fees),
          tool_calls: recordedToolCalls(rec) ? JSON.stringify(recordedToolCalls(rec)) : null,
        });
        const model = rec.response.body_text === undefined ? (rec.response.body as { model: string }).model : undefined;
        if (model) expect(row.returned_model).toBe(model);
      } else if (rec.request.path === '/v1/audio/transcriptions') {
        // whisper-1 answered without usage: its length is estimated from the upload (12 bytes at
        // 128 kbps → 1 s) and priced per minute ($0.006/min → 100 micro-USD).
        expect(row).toMatchObject({
          status: 'settled',
          usage_source: 'estimated',
          requested_model: 'whisper-1',
          metered_tokens: 0,
          cost_micro_usd: 100,
        });
      } else {
        // A successful stream that never reported usage is charged an estimate, never free.
        expect(row).toMatchObject({ status: 'settled', usage_source: 'estimated' });
        expect(row.metered_tokens).toBeGreaterThan(0);
      }
    });
  }
});
