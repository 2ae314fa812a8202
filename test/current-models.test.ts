import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRealtime, type FakeRealtime } from './support/fake-realtime.js';
import { startTollgate, type Row, type Tollgate } from './support/harness.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';
import { chatRow, chatUsage, echoUsage, responseRow, responsesUsage } from './support/usage-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * Today's OpenAI models, each metered end to end through the official SDK, tollgate and a fake
 * upstream, priced from the installed price source (no config price). Every expected cost is
 * written out by hand from the source's list prices (USD per 1M tokens) as integer nano-USD
 * (1 token at $1/1M = 1,000 nano-USD), so the test cannot agree with a wrong pricing rule.
 */

/** The upstream answers with the usage the test sends in `x-test-usage` (a JSON object), for whatever model was asked. */
const upstream = new ScriptedUpstream();
let tg: Tollgate;

beforeAll(async () => {
  await upstream.start();
  upstream.script = echoUsage((req, res) => {
    if (!req.url.startsWith('/v1/images/generations')) return json(res, 404, {});
    const rec = JSON.parse(readFileSync(IMAGE_RECORDING, 'utf8')) as { response: { body: unknown } };
    return json(res, 200, rec.response.body);
  });
  // No `prices` for these models: the harness's test prices name none of them, so the source answers.
  tg = await startTollgate({
    upstreamUrl: upstream.url,
    companies: {
      acme: {
        allocations: [{ id: 'acme-usd', usd: 1000 }],
        fallbackPrices: [
          { models: ['house-*'], price: { input: 1, output: 2, source: 'contract 42', date: '2026-11-01' } },
        ],
      },
      globex: { allocations: [{ id: 'globex-usd', usd: 1000 }] },
    },
  });
});
afterAll(async () => {
  await tg?.close();
  await upstream.close();
});

/** The recorded gpt-image-2 generation (kept in ../shared apart from the suite's other recordings). */
const IMAGE_RECORDING = fileURLToPath(
  new URL('../../shared/fixtures/openai-recorded-current/images-generations-01.json', import.meta.url),
);

async function lastRow(): Promise<Row> {
  await tg.settled();
  return tg.rows().at(-1)!;
}

const chat = (model: string, usage: object, extra: object = {}, body: object = {}) =>
  chatRow(tg, model, { usage, extra, body });
const respond = (model: string, usage: object, extra: object = {}, body: object = {}) =>
  responseRow(tg, model, { usage, extra, body });

const SOURCE_VERSION = /@genai-prices-\d+\.\d+\.\d+(\+tollgate-[\d-]+)?#[0-9a-f]{12}/;

describe('current chat and responses models, priced from the source to the nano-USD', () => {
  it.each([
    // model, usage (input, cached, output, reasoning), nano-USD, the name it resolved to
    // gpt-5.5 $5 / $0.50 / $30: 200 × 5,000 + 1,000 × 500 + 300 × 30,000 (reasoning is output)
    ['gpt-5.5', [1200, 1000, 300, 200], 10_500_000, 'gpt-5.5'],
    // gpt-5.4 $2.50 / $0.25 / $15: 1,000 × 2,500 + 100 × 15,000
    ['gpt-5.4', [1000, 0, 100], 4_000_000, 'gpt-5.4'],
    ['gpt-5.4-2026-03-05', [1000, 0, 100], 4_000_000, 'gpt-5.4'],
    // gpt-5.4-mini $0.75 / $0.075 / $4.50: 500 × 750 + 500 × 75 + 100 × 4,500
    ['gpt-5.4-mini', [1000, 500, 100], 862_500, 'gpt-5.4-mini'],
    // gpt-5.2 $1.75 / $0.175 / $14: 1,000 × 1,750 + 100 × 14,000
    ['gpt-5.2', [1000, 0, 100], 3_150_000, 'gpt-5.2'],
    ['gpt-5.2-chat-latest', [10, 0, 10], 157_500, 'gpt-5.2'],
    // gpt-4.5-preview $75 / $37.50 / $150: 100 × 75,000 + 10 × 150,000
    ['gpt-4.5-preview', [100, 0, 10], 9_000_000, 'gpt-4.5-preview'],
  ] as const)('%s (chat)', async (model, [input, cached, output, reasoning = 0], nano, resolved) => {
    const row = await chat(model, chatUsage(input, cached, output, reasoning));
    expect(row).toMatchObject({
      requested_model: model,
      status: 'settled',
      usage_source: 'upstream',
      input_tokens: input,
      cached_input_tokens: cached,
      output_tokens: output,
      cost_nano_usd: nano,
      cost_micro_usd: Math.floor((nano + 500) / 1000),
      price_source: 'genai-prices',
      error_code: null,
    });
    expect(String(row.price_version)).toMatch(
      new RegExp(`^${resolved.replace(/\./g, '\\.')}${SOURCE_VERSION.source}$`),
    );
  });

  it.each([
    // codex-mini-latest → codex-mini $1.50 / $0.375 / $6: 1,000 × 1,500 + 1,000 × 375 + 300 × 6,000
    ['codex-mini-latest', [2000, 1000, 300], 3_675_000],
    // gpt-5-codex (gpt-5's prices) $1.25 / $0.125 / $10: 1,000 × 1,250 + 1,000 × 10,000
    ['gpt-5-codex', [1000, 0, 1000], 11_250_000],
  ] as const)('%s (responses)', async (model, [input, cached, output], nano) => {
    const row = await respond(model, responsesUsage(input, cached, output));
    expect(row).toMatchObject({ cost_nano_usd: nano, price_source: 'genai-prices', usage_source: 'upstream' });
  });

  it('o3-deep-research: tokens at $10 / $2.50 / $40 plus its web searches at $10 per 1,000', async () => {
    // 800 × 10,000 + 200 × 2,500 + 500 × 40,000 = 28,500,000; two searches 2 × 10,000,000.
    const row = await respond(
      'o3-deep-research',
      responsesUsage(1000, 200, 500, 400),
      {
        output: [
          { type: 'web_search_call', id: 'ws_1', status: 'completed' },
          { type: 'web_search_call', id: 'ws_2', status: 'completed' },
          {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'ok', annotations: [] }],
          },
        ],
      },
      { tools: [{ type: 'web_search_preview' }], background: false },
    );
    expect(row).toMatchObject({
      cost_nano_usd: 48_500_000,
      tool_calls: '{"web_search":2}',
      price_source: 'genai-prices',
    });
  });
});

describe('every dimension the source prices', () => {
  it('bills the whole request at the long-context tier from 272,000 input tokens (gpt-5.4)', async () => {
    // Just below: 271,999 × 2,500 + 1 × 15,000.
    expect((await chat('gpt-5.4', chatUsage(271_999, 0, 1))).cost_nano_usd).toBe(680_012_500);
    // At the tier, every token at $5 / $22.50: 272,000 × 5,000 + 1 × 22,500.
    expect((await chat('gpt-5.4', chatUsage(272_000, 0, 1))).cost_nano_usd).toBe(1_360_022_500);
    // Cached input at the tier's $0.50: 200,000 × 5,000 + 100,000 × 500 + 2,000 × 22,500.
    expect((await chat('gpt-5.4', chatUsage(300_000, 100_000, 2000))).cost_nano_usd).toBe(1_095_000_000);
  });

  it('bills flex at Batch rates, and priority without a priority price at standard prices, saying so', async () => {
    const flex = await chat('gpt-5.4', chatUsage(1000, 0, 100), { service_tier: 'flex' }, { service_tier: 'flex' });
    expect(flex).toMatchObject({ cost_nano_usd: 2_000_000 });
    expect(String(flex.price_version)).toMatch(/\/flex$/);
    // gpt-5.4-nano has no published priority price: $0.20 / $1.25 standard, 1,000 × 200 + 100 × 1,250.
    const priority = await chat(
      'gpt-5.4-nano',
      chatUsage(1000, 0, 100),
      { service_tier: 'priority' },
      { service_tier: 'priority' },
    );
    expect(priority).toMatchObject({ cost_nano_usd: 325_000, error_code: 'priority_billed_at_standard' });
    expect(String(priority.price_version)).toMatch(
      /^gpt-5\.4-nano@genai-prices-[\d.]+#[0-9a-f]{12}\/priority-at-standard$/,
    );
  });

  it('bills cache writes at their own price where the source has one (gpt-5.6-sol)', async () => {
    // gpt-5.6-sol since 2026-08-21: $4 / cached $0.40 / cache write $5 / $20. Of 1,000 input tokens,
    // 200 cached and 300 written: 500 × 4,000 + 200 × 400 + 300 × 5,000 + 10 × 20,000.
    const usage = {
      ...chatUsage(1000, 200, 10),
      prompt_tokens_details: { cached_tokens: 200, cache_write_tokens: 300 },
    };
    const row = await chat('gpt-5.6-sol', usage);
    expect(row).toMatchObject({ cost_nano_usd: 3_780_000, price_source: 'genai-prices' });
  });
});

describe('models no source prices', () => {
  it('are refused by default, and billed at a company’s fallback price when its admin allows them', async () => {
    const refused = await tg
      .client(tg.keys['globex-key'])
      .chat.completions.create({ model: 'house-llm', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_priced');
    // Acme allows `house-*` at $1 / $2: 1,000 × 1,000 + 100 × 2,000.
    const row = await chat('house-llm', chatUsage(1000, 0, 100));
    expect(row).toMatchObject({ company_id: 'acme', cost_nano_usd: 1_200_000, price_source: 'fallback' });
    expect(String(row.price_version)).toMatch(/^house-llm@fallback-2026-11-01#[0-9a-f]{12}$/);
  });
});

describe('gpt-image-2 image generation, the recorded exchange replayed through the SDK', () => {
  it('bills 17 text input tokens at $5 and 106 image output tokens at $30 per 1M', async () => {
    const rec = JSON.parse(readFileSync(IMAGE_RECORDING, 'utf8')) as { request: { body: Record<string, unknown> } };
    const res = await tg.client().images.generate(rec.request.body as never);
    expect(res.data?.[0]?.b64_json?.length).toBeGreaterThan(1000);
    const row = await lastRow();
    // 17 × 5,000 + 106 × 30,000 = 3,265,000 nano-USD.
    expect(row).toMatchObject({
      endpoint: '/v1/images/generations',
      requested_model: 'gpt-image-2',
      input_tokens: 17,
      output_tokens: 106,
      cost_nano_usd: 3_265_000,
      price_source: 'genai-prices',
      usage_source: 'upstream',
    });
    expect(String(row.price_version)).toMatch(/^gpt-image-2@genai-prices-[\d.]+\+tollgate-[\d-]+#[0-9a-f]{12}$/);
  });
});

describe('gpt-realtime, a Realtime session through the SDK', () => {
  let fake: FakeRealtime;
  let rt: Tollgate;
  beforeAll(async () => {
    fake = await startFakeRealtime();
    rt = await startTollgate({ upstreamUrl: fake.url });
  });
  afterAll(async () => {
    await rt?.close();
    await fake?.close();
  });

  it('bills text, audio, cached audio and audio out at gpt-realtime’s source prices', async () => {
    fake.script.push({
      text: 'Hello!',
      usage: {
        total_tokens: 650,
        input_tokens: 400,
        output_tokens: 250,
        input_token_details: {
          text_tokens: 100,
          audio_tokens: 300,
          image_tokens: 0,
          cached_tokens: 200,
          cached_tokens_details: { text_tokens: 50, audio_tokens: 150, image_tokens: 0 },
        },
        output_token_details: { text_tokens: 50, audio_tokens: 200 },
      },
    });
    const port = Number(new URL(rt.url).port);
    const ws = new OpenAIRealtimeWS(
      { model: 'gpt-realtime', options: { createConnection: () => netConnect(port, '127.0.0.1') } },
      rt.client() as OpenAI,
    );
    const events: { type: string }[] = [];
    ws.on('event', (e) => events.push(e as { type: string }));
    await waitUntil(() => events.some((e) => e.type === 'session.created'), { what: 'session.created' });
    ws.send({ type: 'response.create' } as never);
    await waitUntil(() => events.some((e) => e.type === 'response.done'), { what: 'response.done' });
    ws.close();
    await waitUntil(() => rt.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n === 0, {
      what: 'every row settled',
    });
    const row = rt.rows().find((r) => r.endpoint === '/v1/realtime' && Number(r.total_tokens) > 0)!;
    // $4 / $0.40 / $16, audio $32 / $0.40 / $64: text 50 × 4,000 + audio 150 × 32,000 + cached text
    // 50 × 400 + cached audio 150 × 400 + text out 50 × 16,000 + audio out 200 × 64,000.
    expect(row).toMatchObject({
      requested_model: 'gpt-realtime',
      cost_nano_usd: 18_680_000,
      price_source: 'genai-prices',
    });
  });
});
