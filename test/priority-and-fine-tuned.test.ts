import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from './support/harness.js';
import { ScriptedUpstream } from './support/scripted-upstream.js';
import { chatRow, chatUsage, echoUsage, responseRow, responsesUsage } from './support/usage-upstream.js';

/**
 * Priority processing and fine-tuned models, metered end to end through the official SDK, tollgate
 * and a fake upstream, at the prices of tollgate's own table (no config price). Every expected cost
 * is written out by hand from OpenAI's published prices (USD per 1M tokens) as integer nano-USD
 * (1 token at $1/1M = 1,000 nano-USD), so the test cannot agree with a wrong table or rule.
 */
const upstream = new ScriptedUpstream();
let tg: Tollgate;

beforeAll(async () => {
  await upstream.start();
  upstream.script = echoUsage();
  tg = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'usd', usd: 1000 }] } },
    // The fine-tuned models were made before tollgate: this key may use them.
    objects: { unrecordedVisibleTo: ['acme-key'] },
  });
});
afterAll(async () => {
  await tg?.close();
  await upstream.close();
});

describe('priority processing at OpenAI’s priority prices', () => {
  // Of 1,000 input tokens 200 cached, 100 output: 800 × input + 200 × cached + 100 × output.
  it.each([
    // gpt-5.5 $12.50 / $1.25 / $75: 800 × 12,500 + 200 × 1,250 + 100 × 75,000
    ['gpt-5.5', 17_750_000, 'gpt-5.5'],
    // gpt-5.4 $5 / $0.50 / $30: 800 × 5,000 + 200 × 500 + 100 × 30,000
    ['gpt-5.4', 7_100_000, 'gpt-5.4'],
    ['gpt-5.4-2026-03-05', 7_100_000, 'gpt-5.4'],
    // gpt-5.4-mini $1.50 / $0.15 / $9: 800 × 1,500 + 200 × 150 + 100 × 9,000
    ['gpt-5.4-mini', 2_130_000, 'gpt-5.4-mini'],
    // gpt-5.2 $3.50 / $0.35 / $28: 800 × 3,500 + 200 × 350 + 100 × 28,000
    ['gpt-5.2', 5_670_000, 'gpt-5.2'],
    // GPT-5.1 codex and GPT-5 codex $2.50 / $0.25 / $20: 800 × 2,500 + 200 × 250 + 100 × 20,000
    ['gpt-5.1-codex', 4_050_000, 'gpt-5.1'],
    ['gpt-5-codex', 4_050_000, 'gpt-5'],
    // o4-mini $2 / $0.50 / $8: 800 × 2,000 + 200 × 500 + 100 × 8,000
    ['o4-mini', 2_500_000, 'o4-mini'],
  ] as const)('%s', async (model, nano, resolved) => {
    const row = await responseRow(tg, model, {
      usage: responsesUsage(1000, 200, 100),
      extra: { service_tier: 'priority' },
      body: { service_tier: 'priority' },
    });
    expect(row).toMatchObject({
      requested_model: model,
      status: 'settled',
      cost_nano_usd: nano,
      price_source: 'genai-prices',
      error_code: null,
    });
    expect(String(row.price_version)).toMatch(
      new RegExp(
        `^${resolved.replace(/\./g, '\\.')}@genai-prices-[\\d.]+\\+tollgate-2026-12-07#[0-9a-f]{12}/priority$`,
      ),
    );
  });

  it('bills the standard price when the upstream ran the request at another tier than asked', async () => {
    // Asked for priority, served at default: gpt-5.5 $5 / $0.50 / $30, 800 × 5,000 + 200 × 500 + 100 × 30,000.
    const row = await responseRow(tg, 'gpt-5.5', {
      usage: responsesUsage(1000, 200, 100),
      extra: { service_tier: 'default' },
      body: { service_tier: 'priority' },
    });
    expect(row).toMatchObject({ cost_nano_usd: 7_100_000, error_code: null });
    expect(String(row.price_version)).not.toContain('/priority');
  });
});

describe('fine-tuned models at their base model’s fine-tuned rates', () => {
  // Of 1,000 input tokens 400 cached, 100 output: 600 × input + 400 × cached + 100 × output.
  it.each([
    // ft:gpt-4.1 $3 / $0.75 / $12: 600 × 3,000 + 400 × 750 + 100 × 12,000
    ['ft:gpt-4.1-2025-04-14:acme::ft1', 3_300_000, 'ft:gpt-4.1'],
    // ft:gpt-4.1-mini $0.80 / $0.20 / $3.20: 600 × 800 + 400 × 200 + 100 × 3,200
    ['ft:gpt-4.1-mini-2025-04-14:acme::abc123', 880_000, 'ft:gpt-4.1-mini'],
    // ft:gpt-4.1-nano $0.20 / $0.05 / $0.80 (an id with a suffix): 600 × 200 + 400 × 50 + 100 × 800
    ['ft:gpt-4.1-nano-2025-04-14:acme:support:x9', 220_000, 'ft:gpt-4.1-nano'],
    // ft:o4-mini (reinforcement fine-tuned) $4 / $1 / $16: 600 × 4,000 + 400 × 1,000 + 100 × 16,000
    ['ft:o4-mini-2025-04-16:acme::rft1', 4_400_000, 'ft:o4-mini'],
  ] as const)('%s', async (model, nano, resolved) => {
    const row = await chatRow(tg, model, { usage: chatUsage(1000, 400, 100) });
    expect(row).toMatchObject({
      requested_model: model,
      status: 'settled',
      input_tokens: 1000,
      cached_input_tokens: 400,
      output_tokens: 100,
      cost_nano_usd: nano,
      price_source: 'tollgate',
      error_code: null,
    });
    expect(String(row.price_version)).toMatch(
      new RegExp(`^${resolved.replace(/\./g, '\\.')}@tollgate-2026-12-07#[0-9a-f]{12}$`),
    );
  });

  it('bills flex at Batch rates on a fine-tuned model too', async () => {
    // ft:gpt-4.1-nano at 50 %: (600 × 200 + 400 × 50 + 100 × 800) ÷ 2.
    const row = await chatRow(tg, 'ft:gpt-4.1-nano-2025-04-14:acme::x1', {
      usage: chatUsage(1000, 400, 100),
      extra: { service_tier: 'flex' },
      body: { service_tier: 'flex' },
    });
    expect(row).toMatchObject({ status: 'settled', cost_nano_usd: 110_000 });
    expect(String(row.price_version)).toMatch(/\/flex$/);
  });

  it('still refuses a fine-tuned model whose base has no fine-tuned rates, before forwarding', async () => {
    const before = upstream.seen.length;
    const refused = await tg
      .client()
      .chat.completions.create({
        model: 'ft:gpt-5.4-mini-2026-03-17:acme::z1',
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_priced');
    expect(upstream.seen.length).toBe(before);
  });
});
