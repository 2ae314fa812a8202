import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { modelLimits, outputAllowance } from '../src/pricing/limits.js';
import { PriceBook } from '../src/pricing/price.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';

/**
 * Holds follow the model: a request without an output ceiling is held at what its model can
 * produce (from the model tables and the price source), capped by the context window less the prompt.
 */
const now = new Date('2026-12-01T00:00:00Z');
const book = new PriceBook({});
const limits = (model: string) => modelLimits(model, book.find(model, now));

describe('model limits', () => {
  it('take the context window and largest output of each model', () => {
    expect(limits('gpt-5.4')).toEqual({ contextWindow: 1_050_000, maxOutputTokens: 128_000 });
    expect(limits('gpt-5.5')).toEqual({ contextWindow: 1_050_000, maxOutputTokens: 128_000 });
    // An alias with limits of its own keeps them (not its model's 400K / 128K).
    expect(limits('gpt-5.2-chat-latest')).toEqual({ contextWindow: 128_000, maxOutputTokens: 16_384 });
    expect(limits('o3-deep-research')).toEqual({ contextWindow: 200_000, maxOutputTokens: 100_000 });
  });

  it('let an admin’s price set them', () => {
    const priced = {
      source: 'config' as const,
      price: { input: 1, output: 1, batchDiscount: 0.5, source: 'x', contextWindow: 50_000, maxOutputTokens: 9_000 },
    };
    expect(modelLimits('house-llm', priced)).toEqual({ contextWindow: 50_000, maxOutputTokens: 9_000 });
  });

  it('cap the output allowance by what the context window leaves after the prompt', () => {
    expect(outputAllowance({ contextWindow: 128_000, maxOutputTokens: 16_384 }, 120_000)).toBe(8_000);
    expect(outputAllowance({ contextWindow: 128_000, maxOutputTokens: 16_384 }, 1_000)).toBe(16_384);
    expect(outputAllowance({ contextWindow: 128_000, maxOutputTokens: 16_384 }, 200_000)).toBe(1);
    const est = estimateRequest(
      '/v1/chat/completions',
      'gpt-5.4',
      { messages: [{ role: 'user', content: 'Hi' }] },
      limits('gpt-5.4'),
    );
    expect(est.modelMaxOutput).toBe(128_000);
  });
});

describe('a request without max_tokens through tollgate', () => {
  const upstream = new ScriptedUpstream();
  let tg: Tollgate;
  beforeAll(async () => {
    await upstream.start();
    upstream.script = (req, res) => {
      const body = JSON.parse(req.body.toString()) as { model: string };
      json(res, 200, {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 },
      });
    };
    tg = await startTollgate({ upstreamUrl: upstream.url });
  });
  afterAll(async () => {
    await tg?.close();
    await upstream.close();
  });

  it.each([
    ['gpt-5.4', 128_000],
    ['gpt-5.2-chat-latest', 16_384],
  ])('on %s is held at the prompt plus %i output tokens', async (model, output) => {
    await tg.client().chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });
    await tg.settled();
    const row = tg.rows().at(-1)!;
    // The prompt as counted, or, admitted on a bound of it while the grant had ample room (then not
    // counted: the upstream answered before anything needed the count), its JSON bytes + 3.
    const prompt = Number(row.estimated_prompt_tokens);
    const bound = Buffer.byteLength(JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] })) + 3;
    expect(Number(row.hold_tokens)).toBe((prompt > 0 ? prompt : bound) + output);
  });
});
