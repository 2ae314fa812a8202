import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { syntheticRecordings } from './support/synthetic.js';

/** Every billable endpoint of the spec, metered through the SDK; features, unpriced models and dated prices. */
const recordings = new Map([...loadRecordings().map((r) => [r.name, r] as const), ...syntheticRecordings()]);
const NOW = new Date('2026-11-22T12:00:00Z');

let upstream: FakeUpstream;
let tollgate: Tollgate;
let client: OpenAI;
const extra: Tollgate[] = [];

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 1;
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    clock: () => NOW,
    // The recorded batches and background responses were not created through this tollgate: the operator's key may see them.
    objects: { unrecordedVisibleTo: ['acme-key'] },
    companies: {
      acme: {
        allocations: [
          { id: 'tokens', tokens: 10_000_000 },
          { id: 'money', usd: 100 },
        ],
      },
    },
  });
  client = tollgate.client();
});
afterEach(async () => {
  for (const t of extra.splice(0)) await t.close();
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});

const opts = (name: string) => ({ headers: { 'x-test-recording': name } });
const last = (t = tollgate) => t.rows().at(-1)!;
const settled = (t = tollgate) => t.settled();

describe('images', () => {
  it('gpt-image-1: text input and image output tokens at their own prices', async () => {
    const res = await client.images.generate(
      { model: 'gpt-image-1', prompt: 'A lighthouse at dawn', size: '1024x1024', quality: 'high' },
      opts('images-generations-gpt-image'),
    );
    expect(res.data?.[0]?.b64_json).toBe('iVBORw0KGgo=');
    await settled();
    // 50 text tokens at $5/1M + 4160 image output tokens at $40/1M = $0.16665
    expect(last()).toMatchObject({
      endpoint: '/v1/images/generations',
      usage_source: 'upstream',
      input_tokens: 50,
      output_tokens: 4160,
      metered_tokens: 4210,
      cost_micro_usd: 166_650,
      price_version: expect.stringMatching(/^gpt-image-1@genai-prices-[\d.]+#[0-9a-f]{12}$/),
      price_source: 'genai-prices',
    });
  });

  it('DALL·E 3: per image by size and quality, from a USD grant', async () => {
    await client.images.generate(
      { model: 'dall-e-3', prompt: 'A lighthouse at dawn', n: 1, size: '1024x1792', quality: 'hd' },
      opts('images-generations-dalle3'),
    );
    await settled();
    expect(last()).toMatchObject({
      usage_source: 'computed',
      metered_tokens: 0,
      cost_micro_usd: 120_000,
      hold_micro_usd: 120_000,
      hold_tokens: 0,
    });
    expect(tollgate.query('SELECT grant_id, amount FROM debits WHERE request_id = ?', last().id)).toEqual([
      { grant_id: 'money', amount: 120_000 },
    ]);
  });

  it('DALL·E is refused for a company with only token grants: never free by accident', async () => {
    const t = await startTollgate({
      upstreamUrl: upstream.url,
      clock: () => NOW,
      companies: { acme: { allocations: [{ id: 'tokens-only', tokens: 1_000_000 }] } },
    });
    extra.push(t);
    const before = upstream.received.length;
    await expect(
      t
        .client()
        .images.generate(
          { model: 'dall-e-3', prompt: 'x', size: '1024x1792', quality: 'hd' },
          opts('images-generations-dalle3'),
        ),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(upstream.received.length).toBe(before);
  });

  it('image edits: a multipart upload streams through and is billed from its usage', async () => {
    const rec = recordings.get('images-edits-01')!;
    await client.images.edit(
      {
        model: 'gpt-image-1',
        prompt: 'collage',
        image: await toFile(Buffer.alloc(200_000, 7), 'a.png', { type: 'image/png' }),
      },
      opts(rec.name),
    );
    await settled();
    const got = upstream.received.at(-1)!;
    expect(got.body.length).toBeGreaterThan(200_000);
    expect(got.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(last()).toMatchObject({
      endpoint: '/v1/images/edits',
      requested_model: 'gpt-image-1',
      usage_source: 'upstream',
      input_tokens: 432,
      output_tokens: 4160,
    });
  });
});

describe('audio', () => {
  it('tts-1: input characters at the per-character price', async () => {
    const res = await client.audio.speech.create(
      { model: 'tts-1', input: 'Hello world', voice: 'alloy' },
      opts('speech-tts-1'),
    );
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe('ID3\u0003fake-mp3-frames');
    await settled();
    // 11 characters at $15/1M = 165 micro-USD
    expect(last()).toMatchObject({
      endpoint: '/v1/audio/speech',
      usage_source: 'computed',
      cost_micro_usd: 165,
      metered_tokens: 0,
    });
  });

  it('gpt-4o-mini-tts over SSE: usage from speech.audio.done, output priced as audio', async () => {
    const res = await fetch(`${tollgate.url}/v1/audio/speech`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tollgate.keys['acme-key']}`,
        'content-type': 'application/json',
        'x-test-recording': 'speech-sse',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini-tts', input: 'Hi there', voice: 'alloy', stream_format: 'sse' }),
    });
    expect(await res.text()).toContain('speech.audio.done');
    await settled();
    // 14 text tokens at $0.60/1M + 101 audio tokens at $12/1M = 1220.4 → 1220 micro-USD
    expect(last()).toMatchObject({
      usage_source: 'upstream',
      input_tokens: 14,
      output_tokens: 101,
      cost_micro_usd: 1220,
      stream: 1,
    });
  });

  it('gpt-4o-transcribe: audio input tokens at the audio price', async () => {
    await client.audio.transcriptions.create(
      { model: 'gpt-4o-transcribe', file: await toFile(Buffer.from('audio'), 'a.mp3') },
      opts('transcription-tokens'),
    );
    await settled();
    // 14 audio tokens at $6/1M + 45 output tokens at $10/1M = 534 micro-USD
    expect(last()).toMatchObject({
      requested_model: 'gpt-4o-transcribe',
      usage_source: 'upstream',
      input_tokens: 14,
      output_tokens: 45,
      cost_micro_usd: 534,
      metered_tokens: 59,
    });
  });

  it('whisper-1 with duration usage: seconds at the per-minute price', async () => {
    await client.audio.transcriptions.create(
      { model: 'whisper-1', file: await toFile(Buffer.from('audio'), 'a.mp3') },
      opts('transcription-duration'),
    );
    await settled();
    expect(last()).toMatchObject({ usage_source: 'upstream', cost_micro_usd: 3000, metered_tokens: 0 });
  });

  it('translations: the duration verbose_json reports', async () => {
    await client.audio.translations.create(
      { model: 'whisper-1', file: await toFile(Buffer.from('audio'), 'a.mp3'), response_format: 'verbose_json' },
      opts('translation-verbose'),
    );
    await settled();
    expect(last()).toMatchObject({
      endpoint: '/v1/audio/translations',
      usage_source: 'computed',
      cost_micro_usd: 1250,
    });
  });
});

describe('free and pass-through endpoints', () => {
  it('moderations are logged, never billed', async () => {
    await client.moderations.create({ model: 'omni-moderation-latest', input: 'I like turtles' }, opts('moderations'));
    await settled();
    expect(last()).toMatchObject({
      endpoint: '/v1/moderations',
      status: 'settled',
      usage_source: 'none',
      cost_micro_usd: 0,
      hold_tokens: 0,
    });
  });

  it('files pass through unbilled even when unknown paths are refused', async () => {
    await expect(client.files.list({}, opts('files-list'))).resolves.toBeTruthy();
    await settled();
    expect(last()).toMatchObject({ endpoint: '/v1/files', status: 'settled', cost_micro_usd: 0 });
  });
});

describe('responses and batches: retrievals and cancels bill nothing', () => {
  it('a background response is deferred to the settler; retrieving or cancelling it bills nothing', async () => {
    const created = await client.responses.create(
      { model: 'gpt-4o-mini', input: 'Write a haiku', background: true } as never,
      opts('responses-background'),
    );
    expect(created).toMatchObject({ id: 'resp_bg1', status: 'queued' });
    await settled();
    // Its row keeps its hold until the settler sees the response final (test/background.test.ts).
    expect(last()).toMatchObject({ endpoint: '/v1/responses', status: 'held' });
    expect(tollgate.query("SELECT kind FROM deferred_objects WHERE object_id = 'resp_bg1'")).toEqual([
      { kind: 'response' },
    ]);

    await client.responses.retrieve('resp_bg1', {}, opts('responses-retrieve-completed'));
    await client.responses.cancel('resp_bg1', opts('responses-cancel-completed'));
    await settled();
    expect(
      tollgate.query(
        "SELECT status, usage_source, metered_tokens, cost_micro_usd FROM requests WHERE endpoint LIKE '/v1/responses/:id%' ORDER BY rowid",
      ),
    ).toEqual([
      { status: 'settled', usage_source: 'none', metered_tokens: 0, cost_micro_usd: 0 },
      { status: 'settled', usage_source: 'none', metered_tokens: 0, cost_micro_usd: 0 },
    ]);
  });

  it('retrieving a completed batch bills nothing', async () => {
    await client.batches.retrieve('batch_1', opts('batch-completed'));
    await settled();
    expect(last()).toMatchObject({ endpoint: '/v1/batches/:id', cost_micro_usd: 0, metered_tokens: 0 });
  });
});

describe('feature rates', () => {
  it('multiply metered tokens, record the feature, and refuse an unknown one', async () => {
    const t = await startTollgate({
      upstreamUrl: upstream.url,
      clock: () => NOW,
      companies: { acme: { allocations: [{ id: 'g', tokens: 1_000_000 }] } },
    });
    extra.push(t);
    t.server.runtime.config.features = { ai_bots: { multiplier: 2.5, description: 'chatbot responses' } };
    const chat = recordings.get('chat-nonstream-01')!;
    const send = (feature: string) =>
      fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.keys['acme-key']}`,
          'content-type': 'application/json',
          'x-test-recording': chat.name,
          'x-tollgate-feature': feature,
        },
        body: JSON.stringify(chat.request.body),
      });
    expect((await send('ai_bots')).status).toBe(200);
    await settled(t);
    expect(last(t)).toMatchObject({ feature: 'ai_bots', total_tokens: 22, metered_tokens: 55, cost_micro_usd: 15 }); // the cost is not multiplied
    const before = upstream.received.length;
    const res = await send('crypto_mining');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'unknown_feature', param: 'x-tollgate-feature' } });
    expect(upstream.received.length).toBe(before);
  });
});

describe('prices', () => {
  it('an unpriced model is refused by default, or forwarded unbilled and flagged when the policy says so', async () => {
    const body = { model: 'gpt-mystery', messages: [{ role: 'user', content: 'hi' }] };
    await expect(client.chat.completions.create(body as never, opts('chat-nonstream-01'))).rejects.toMatchObject({
      status: 400,
      code: 'model_not_priced',
    });
    const t = await startTollgate({
      upstreamUrl: upstream.url,
      clock: () => NOW,
      admission: { unpricedModels: 'unbilled' },
    });
    extra.push(t);
    await t.client().chat.completions.create(body as never, opts('chat-nonstream-01'));
    await settled(t);
    expect(last(t)).toMatchObject({
      metered_tokens: 22,
      cost_micro_usd: 0,
      price_version: null,
      error_code: 'model_not_priced',
    });
  });

  it('dated prices take over on their day, and each row records the version it used', async () => {
    let now = new Date('2026-11-30T12:00:00Z');
    const t = await startTollgate({ upstreamUrl: upstream.url, clock: () => now });
    extra.push(t);
    t.server.runtime.config = {
      ...t.server.runtime.config,
      prices: {
        'gpt-3.5-turbo': [
          {
            input: 0.5,
            output: 1.5,
            effectiveFrom: '2026-01-01',
            source: 'test',
            date: '2026-01-01',
            batchDiscount: 0.5,
          },
          { input: 1, output: 3, effectiveFrom: '2026-12-01', source: 'test', date: '2026-11-15', batchDiscount: 0.5 },
        ],
      },
    };
    const chat = recordings.get('chat-nonstream-01')!;
    await t.client().chat.completions.create(chat.request.body as never, opts(chat.name));
    now = new Date('2026-12-01T00:00:00Z');
    await t.client().chat.completions.create(chat.request.body as never, opts(chat.name));
    await settled(t);
    // 18 input + 4 output tokens: 15 micro-USD at $0.50/$1.50, 30 at $1/$3.
    expect(t.rows().map((r) => [r.cost_micro_usd, r.price_version, r.price_source])).toEqual([
      [15, expect.stringMatching(/^gpt-3\.5-turbo@2026-01-01#[0-9a-f]{12}$/), 'config'],
      [30, expect.stringMatching(/^gpt-3\.5-turbo@2026-12-01#[0-9a-f]{12}$/), 'config'],
    ]);
  });
});
