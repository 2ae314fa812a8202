import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { responsesStreamMeter } from '../src/metering/stream-meter.js';
import { toolCallsOf } from '../src/metering/tool-calls.js';
import { meterJsonBody, NO_TOKENS } from '../src/metering/usage.js';
import { costMicroUsd, costNanoUsd, maxPicoPerToken, nanoToMicro, PriceBook, tierPrice } from '../src/pricing/price.js';
import { toolAllowance, toolFeesNano, toolPlanOf, WEB_SEARCH_TOKENS_PER_CALL } from '../src/pricing/tool-fees.js';

/** Prices per tier, fine-tuned models, nano-USD precision, built-in tool fees and their allowance. */
const book = new PriceBook({});
const now = new Date('2026-11-30T12:00:00Z');
const price = (model: string) => book.find(model, now)!.price;
const usage = (inputTokens: number, outputTokens: number, cachedInputTokens = 0) => ({
  ...NO_TOKENS,
  inputTokens,
  outputTokens,
  cachedInputTokens,
  totalTokens: inputTokens + outputTokens,
});

describe('precision below a micro-dollar', () => {
  it('costs a 2-token embedding 40 nano-USD, not 0, and a million of them $0.04', () => {
    const one = costNanoUsd(usage(2, 0), price('text-embedding-3-small'));
    expect(one).toBe(40);
    expect(costMicroUsd(usage(2, 0), price('text-embedding-3-small'))).toBe(0);
    expect(nanoToMicro(one * 1_000_000)).toBe(40_000);
  });

  it('stays exact in BigInt for large usages and caps an absurd one instead of throwing mid-settle', () => {
    expect(costNanoUsd(usage(100_000_000, 0), price('gpt-4o'))).toBe(250_000_000_000);
    expect(costNanoUsd(usage(0, 1e15), price('gpt-4o'))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('service tiers', () => {
  it('bills flex at Batch rates: half the standard price', () => {
    expect(costNanoUsd(usage(53, 469), price('gpt-5'), 'flex')).toBe(
      Math.round(costNanoUsd(usage(53, 469), price('gpt-5')) / 2),
    );
  });

  it('bills priority at the priority prices, and says so when a model has none', () => {
    expect(costNanoUsd(usage(8, 82), price('gpt-5'), 'priority')).toBe(8 * 2500 + 82 * 20_000);
    expect(tierPrice(price('gpt-5'), 'priority').unpriced).toBe(false);
    expect(tierPrice(price('o1'), 'priority').unpriced).toBe(true);
    expect(costNanoUsd(usage(10, 10), price('gpt-5'), 'default')).toBe(costNanoUsd(usage(10, 10), price('gpt-5')));
  });

  it('holds USD grants at the highest of the standard and priority prices', () => {
    expect(maxPicoPerToken(price('gpt-5'))).toBe(20_000_000);
  });
});

describe('prices', () => {
  it('prices a fine-tuned model at its base model’s fine-tuned rates, never at the base inference price', () => {
    // The price source has gpt-4o-mini's fine-tuned rates ($0.30 / $1.20), twice its base ($0.15 / $0.60).
    const ft = book.find('ft:gpt-4o-mini-2024-07-18:acme::abc123', now)!;
    expect(ft).toMatchObject({
      resolvedAs: 'ft:gpt-4o-mini',
      source: 'genai-prices',
      price: { input: 0.3, output: 1.2 },
    });
    // tollgate's own table has gpt-4.1-mini's fine-tuned rates ($0.80 / $0.20 / $3.20), twice its base.
    expect(book.find('ft:gpt-4.1-mini-2025-04-14:acme::abc123', now)).toMatchObject({
      resolvedAs: 'ft:gpt-4.1-mini',
      source: 'tollgate',
      price: { input: 0.8, cachedInput: 0.2, output: 3.2, batchDiscount: 0.5 },
    });
    // No fine-tuned rates anywhere for gpt-5.4-mini: unpriced, not the base model's $0.75.
    expect(book.find('ft:gpt-5.4-mini-2026-03-17:acme::abc123', now)).toBeUndefined();
    const config = parseConfig({
      ledger: { path: 'x.db' },
      companies: {},
      prices: {
        'ft:gpt-5.4-mini': { input: 1.5, output: 9, source: 'our contract', date: '2026-11-30' },
      },
    });
    const found = new PriceBook(config.prices).find('ft:gpt-5.4-mini-2026-03-17:acme::abc123', now);
    expect(found).toMatchObject({ source: 'config', resolvedAs: 'ft:gpt-5.4-mini' });
    expect(found?.version).toMatch(/^ft:gpt-5\.4-mini@2026-11-30#[0-9a-f]{12}$/);
  });
});

describe('built-in tool calls', () => {
  const output = [
    { type: 'web_search_call', id: 'ws_1', status: 'completed' },
    { type: 'web_search_call', id: 'ws_2', status: 'completed' },
    { type: 'code_interpreter_call', id: 'ci_1', container_id: 'cntr_a' },
    { type: 'code_interpreter_call', id: 'ci_2', container_id: 'cntr_a' },
    { type: 'file_search_call', id: 'fs_1' },
    { type: 'message', id: 'msg_1' },
  ];

  it('reads them from a Responses body, one container per container id', () => {
    expect(toolCallsOf(output)).toEqual({ web_search: 2, code_interpreter: 1, file_search: 1 });
    expect(
      meterJsonBody(JSON.stringify({ object: 'response', id: 'resp_1', service_tier: 'flex', output })).toolCalls,
    ).toEqual({ web_search: 2, code_interpreter: 1, file_search: 1 });
    expect(meterJsonBody(JSON.stringify({ object: 'response', id: 'resp_1', output: [] })).toolCalls).toBeUndefined();
  });

  it('reads them from a stream, counting an item seen twice once', () => {
    const meter = responsesStreamMeter();
    const event = (type: string, data: unknown) => meter.event(`event: ${type}\ndata: ${JSON.stringify(data)}`);
    event('response.output_item.done', { type: 'response.output_item.done', item: output[0] });
    event('response.completed', {
      type: 'response.completed',
      response: {
        id: 'resp_1',
        model: 'gpt-4.1',
        service_tier: 'priority',
        output,
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      },
    });
    expect(meter.result().toolCalls).toEqual({ web_search: 2, code_interpreter: 1, file_search: 1 });
    expect(meter.result().serviceTier).toBe('priority');
  });

  it('prices them: web search $10/1k, preview on a non-reasoning model $25/1k, file search $2.50/1k, a 4 GB container $0.12', () => {
    const plan = (tools: unknown[]) => toolPlanOf('gpt-4.1', { tools });
    expect(toolFeesNano('gpt-4.1', plan([{ type: 'web_search' }]), { web_search: 3 })).toBe(30_000_000);
    expect(toolFeesNano('gpt-4.1', plan([{ type: 'web_search_preview' }]), { web_search: 1 })).toBe(25_000_000);
    expect(toolFeesNano('o3', toolPlanOf('o3', { tools: [{ type: 'web_search_preview' }] }), { web_search: 1 })).toBe(
      10_000_000,
    );
    expect(toolFeesNano('gpt-4.1', plan([{ type: 'file_search' }]), { file_search: 4 })).toBe(10_000_000);
    expect(
      toolFeesNano('gpt-4.1', plan([{ type: 'code_interpreter', container: { type: 'auto', memory_limit: '4g' } }]), {
        code_interpreter: 1,
      }),
    ).toBe(120_000_000);
    expect(toolFeesNano('gpt-4o-search-preview', toolPlanOf('gpt-4o-search-preview', {}), undefined)).toBe(25_000_000);
    expect(toolFeesNano('gpt-4.1', undefined, undefined)).toBe(0);
  });

  it('prices the image tool by its image model’s output tokens', () => {
    const plan = toolPlanOf('gpt-4.1', { tools: [{ type: 'image_generation', quality: 'high', size: '1024x1024' }] });
    expect(toolFeesNano('gpt-4.1', plan, { image_generation: 1 }, price('gpt-image-1'))).toBe(4160 * 40_000);
  });

  it('holds an allowance for the calls a request enables: fees and the input they add', () => {
    const body = { tools: [{ type: 'web_search' }, { type: 'file_search', max_num_results: 5 }], max_tool_calls: 2 };
    const allowance = toolAllowance('gpt-4.1', toolPlanOf('gpt-4.1', body), body);
    expect(allowance.inputTokens).toBe(2 * WEB_SEARCH_TOKENS_PER_CALL + 2 * 800 * 5);
    expect(allowance.feeNano).toBe(2 * 10_000_000 + 2 * 2_500_000);
    expect(toolAllowance('gpt-4.1', undefined, {})).toEqual({ inputTokens: 0, feeNano: 0 });
  });
});
