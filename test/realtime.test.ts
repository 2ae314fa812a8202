import { connect as netConnect } from 'node:net';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { countTokens } from '../src/metering/tokenizer.js';
import { startFakeRealtime, type FakeRealtime, type WireUsage } from './support/fake-realtime.js';
import { startTollgate, UPSTREAM_KEY, type Row, type Tollgate } from './support/harness.js';

/**
 * The Realtime API through tollgate: the official SDK's `OpenAIRealtimeWS` against a fake upstream
 * Realtime server, every session metered per response on the ledger.
 */
const MODEL = 'gpt-realtime-test';
const SOURCE = 'https://developers.openai.com/api/docs/models/gpt-realtime-1.5';
/** gpt-realtime-1.5's prices (USD per 1M tokens), under a test name. */
const PRICES = {
  [MODEL]: {
    input: 4,
    cachedInput: 0.4,
    output: 16,
    audioInput: 32,
    cachedAudioInput: 0.4,
    audioOutput: 64,
    imageInput: 5,
    cachedImageInput: 0.5,
    source: SOURCE,
    date: '2026-11-30',
  },
  'gpt-4o-transcribe': {
    input: 2.5,
    output: 10,
    audioInput: 6,
    source: 'https://developers.openai.com/api/docs/models/gpt-4o-transcribe',
    date: '2026-11-30',
  },
};

let tg: Tollgate | undefined;
let fake: FakeRealtime | undefined;
afterEach(async () => {
  await tg?.close();
  await fake?.close();
  tg = fake = undefined;
});

async function setup(opts: { tokens?: number; realtime?: Record<string, unknown>; limits?: unknown } = {}) {
  fake = await startFakeRealtime();
  tg = await startTollgate({
    upstreamUrl: fake.url,
    prices: PRICES,
    realtime: opts.realtime,
    companies: {
      acme: {
        allocations: [{ id: 'acme-grant', tokens: opts.tokens ?? 10_000_000 }],
        ...(opts.limits ? { limits: opts.limits } : {}),
      },
      globex: { allocations: [{ id: 'globex-unlimited', unlimited: true, models: [MODEL] }] },
    },
  });
  return { tg, fake };
}

/** Polls `cond` every 5 ms; fails the test after 5 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Event = Record<string, any>;

/**
 * Opens a session with the SDK. The SDK always dials `wss://`; tollgate here speaks plain HTTP on
 * 127.0.0.1, so the socket is handed over as a plain TCP connection (ws's `createConnection`).
 */
async function open(t: Tollgate, key = t.keys['acme-key']!, model = MODEL) {
  const port = Number(new URL(t.url).port);
  const rt = new OpenAIRealtimeWS(
    { model, options: { createConnection: () => netConnect(port, '127.0.0.1') } },
    t.client(key),
  );
  const events: Event[] = [];
  const errors: Error[] = [];
  rt.on('event', (e) => events.push(e as Event));
  rt.on('error', (err) => errors.push(err));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await until(() => events.some((e) => e.type === 'session.created') || errors.length > 0, 'session.created');
  const count = (type: string) => events.filter((e) => e.type === type).length;
  return { rt, events, errors, closed, count };
}

const usage = (
  input: number,
  output: number,
  d: {
    textIn?: number;
    audioIn?: number;
    cachedText?: number;
    cachedAudio?: number;
    textOut?: number;
    audioOut?: number;
  } = {},
): WireUsage => ({
  total_tokens: input + output,
  input_tokens: input,
  output_tokens: output,
  input_token_details: {
    text_tokens: d.textIn ?? input - (d.audioIn ?? 0),
    audio_tokens: d.audioIn ?? 0,
    image_tokens: 0,
    cached_tokens: (d.cachedText ?? 0) + (d.cachedAudio ?? 0),
    cached_tokens_details: { text_tokens: d.cachedText ?? 0, audio_tokens: d.cachedAudio ?? 0, image_tokens: 0 },
  },
  output_token_details: { text_tokens: d.textOut ?? output - (d.audioOut ?? 0), audio_tokens: d.audioOut ?? 0 },
});

const sessionRows = (t: Tollgate): Row[] => t.rows().filter((r) => r.endpoint === '/v1/realtime');
const responseRows = (t: Tollgate) => sessionRows(t).filter((r) => Number(r.total_tokens) > 0);
const grant = (t: Tollgate) => t.query("SELECT spent, held FROM grants WHERE id = 'acme-grant'")[0]!;
async function allSettled(t: Tollgate) {
  await until(
    () => t.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n === 0,
    'every row settled',
  );
}

describe('Realtime sessions through tollgate', () => {
  it('meters a text session exactly, one row per response, events unchanged both ways, the caller key never upstream', async () => {
    const { tg, fake } = await setup();
    fake.script.push(
      { text: 'Hello!', usage: usage(120, 30, { cachedText: 64 }) },
      { text: 'Bye.', usage: usage(180, 12, { cachedText: 128 }) },
    );
    const s = await open(tg);
    const sent = [
      { type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.' } },
      {
        type: 'conversation.item.create',
        item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi there' }] },
      },
      { type: 'response.create', response: { output_modalities: ['text'] } },
    ];
    for (const e of sent) s.rt.send(e as never);
    await until(() => s.count('response.done') === 1, 'first response.done');
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 2, 'second response.done');
    s.rt.close();
    expect((await s.closed).code).toBe(1000);
    await allSettled(tg);

    const conn = fake.connections[0]!;
    // What the client sent reached the upstream byte for byte, in order.
    expect(conn.frames).toEqual([...sent, { type: 'response.create' }].map((e) => JSON.stringify(e)));
    // What the upstream sent reached the client unchanged, in order (tollgate added nothing).
    expect(s.events.map((e) => e.type)).toEqual([
      'session.created',
      'session.updated',
      'response.created',
      'response.output_text.delta',
      'response.done',
      'response.created',
      'response.output_text.delta',
      'response.done',
    ]);
    expect(s.errors).toEqual([]);
    // tollgate's key upstream, never the caller's.
    expect(conn.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify([conn.headers, conn.url, conn.protocols])).not.toContain(tg.keys['acme-key']);
    expect(conn.url).toBe(`/v1/realtime?model=${MODEL}`);

    const rows = responseRows(tg);
    expect(rows).toHaveLength(2);
    // 56 text × $4 + 64 cached × $0.40 + 30 out × $16 = 729.6 micro-USD; 52 × 4 + 128 × 0.4 + 12 × 16 = 451.2.
    expect(
      rows.map((r) => [
        r.input_tokens,
        r.cached_input_tokens,
        r.output_tokens,
        r.total_tokens,
        r.metered_tokens,
        r.cost_micro_usd,
        r.usage_source,
        r.status,
      ]),
    ).toEqual([
      [120, 64, 30, 150, 150, 730, 'upstream', 'settled'],
      [180, 128, 12, 192, 192, 451, 'upstream', 'settled'],
    ]);
    const all = sessionRows(tg);
    expect(new Set(all.map((r) => r.session_id)).size).toBe(1);
    expect(String(all[0]!.session_id)).toMatch(/^rts_[0-9a-f]{32}$/);
    expect(
      all.every((r) => r.upstream_request_id === 'sess_1' && r.requested_model === MODEL && r.http_status === 101),
    ).toBe(true);
    // The lease renewed after the last response was not used: settled at zero.
    expect(
      all.filter((r) => Number(r.total_tokens) === 0).map((r) => [r.status, r.cost_micro_usd, r.usage_source]),
    ).toEqual([['settled', 0, 'none']]);
    expect(grant(tg)).toEqual({ spent: 342, held: 0 });
    // The read API (and so the CLI reports) show the session under its endpoint like any request.
    const report = await fetch(`${tg.url}/tollgate/v1/usage?group_by=endpoint`, {
      headers: { authorization: `Bearer ${tg.keys['acme-key']}` },
    });
    const data = ((await report.json()) as { data: Record<string, unknown>[] }).data;
    expect(data).toEqual([
      expect.objectContaining({
        key: '/v1/realtime',
        requests: 3,
        input_tokens: 300,
        cached_input_tokens: 192,
        output_tokens: 42,
        total_tokens: 342,
        cost_micro_usd: 1181,
        errors: 0,
      }),
    ]);
  });

  it('meters an audio session exactly: audio, cached audio, audio out, and the input transcription at its own model', async () => {
    const { tg, fake } = await setup();
    fake.transcriptionUsage = {
      type: 'tokens',
      input_tokens: 50,
      output_tokens: 8,
      total_tokens: 58,
      input_token_details: { text_tokens: 0, audio_tokens: 50 },
    };
    fake.script.push({
      text: '',
      audioBytes: 96_000,
      usage: usage(400, 250, { audioIn: 300, cachedText: 50, cachedAudio: 150, textOut: 50, audioOut: 200 }),
    });
    const s = await open(tg);
    s.rt.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } },
    } as never);
    await until(() => s.count('session.updated') === 1, 'session.updated');
    s.rt.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    s.rt.send({ type: 'input_audio_buffer.commit' });
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 1, 'response.done');
    s.rt.close();
    await s.closed;
    await allSettled(tg);

    const rows = responseRows(tg);
    const transcription = rows.find((r) => r.requested_model === 'gpt-4o-transcribe')!;
    const response = rows.find((r) => r.requested_model === MODEL)!;
    // 50 audio × $6 + 8 out × $10 = 380 micro-USD.
    expect([
      transcription.input_tokens,
      transcription.output_tokens,
      transcription.cost_micro_usd,
      transcription.price_version,
    ]).toEqual([50, 8, 380, expect.stringMatching(/^gpt-4o-transcribe@2026-11-30#[0-9a-f]{12}$/)]);
    // Text 50 × $4 + audio 150 × $32 + cached text 50 × $0.40 + cached audio 150 × $0.40 + out text 50 × $16 + out audio 200 × $64 = 18,680.
    expect([
      response.input_tokens,
      response.cached_input_tokens,
      response.output_tokens,
      response.cost_micro_usd,
      response.usage_source,
    ]).toEqual([400, 200, 250, 18_680, 'upstream']);
    expect(transcription.session_id).toBe(response.session_id);
    expect(grant(tg)).toEqual({ spent: 58 + 650, held: 0 });
  });

  it('cuts a session off when the grant runs out mid-conversation: error event, no new response.create, the one in flight finishes', async () => {
    // Leases of 10,000 tokens: the opening one leaves 15,000; after the first response (8,000) the
    // renewal leaves 7,000, so a second concurrent response cannot be leased.
    const { tg, fake } = await setup({ tokens: 25_000, realtime: { leaseTokens: 10_000, minLeaseTokens: 10_000 } });
    fake.script.push(
      { text: 'One', usage: usage(7_000, 1_000) },
      { text: 'Two', usage: usage(7_500, 500), hold: true },
    );
    const s = await open(tg);
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 1, 'first response');
    await until(
      () => tg.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n === 1,
      'the renewed lease',
    );
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.created') === 2, 'second response started');
    s.rt.send({ type: 'response.create', event_id: 'evt_third' });
    await until(() => s.count('error') === 1, 'the insufficient_quota error event');
    const error = s.events.find((e) => e.type === 'error')!;
    expect(error.error).toMatchObject({
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      param: null,
      event_id: 'evt_third',
    });
    expect(s.errors[0]?.message).toContain('insufficient_quota');
    // Asked again while the cut-off waits: refused again, never forwarded.
    s.rt.send({ type: 'response.create', event_id: 'evt_fourth' });
    s.rt.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'still here' }] },
    });
    await until(() => s.count('error') === 2, 'the second error event');
    await until(() => fake.connections[0]!.received.length === 3, 'the item forwarded');
    expect(fake.connections[0]!.received.filter((e) => e.type === 'response.create')).toHaveLength(2);
    // The response in flight finishes, then the session closes.
    fake.finish();
    expect(await s.closed).toEqual({ code: 1008, reason: 'insufficient_quota' });
    expect(s.events.some((e) => e.type === 'response.done')).toBe(true);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.total_tokens, r.usage_source])).toEqual([
      [8_000, 'upstream'],
      [8_000, 'upstream'],
    ]);
    expect(grant(tg)).toEqual({ spent: 16_000, held: 0 });
  });

  it('settles a response cut short by the client leaving with an estimate, and closes the upstream', async () => {
    const { tg, fake } = await setup();
    fake.script.push(
      { text: 'Done', usage: usage(300, 20) },
      { text: 'Hello there, my friend', audioBytes: 48_000, usage: usage(1, 1), hold: true },
    );
    const s = await open(tg);
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 1, 'first response');
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.output_audio.delta') === 12, 'the audio of the second response');
    s.rt.socket.terminate();
    await until(() => fake.connections[0]!.socket.readyState === WebSocket.CLOSED, 'the upstream socket closed');
    await allSettled(tg);
    const cut = responseRows(tg)[1]!;
    // Input: the last completed response's; output: the text seen plus 1 s of pcm16 audio (20 tokens).
    const out = countTokens(MODEL, 'Hello there, my friend') + 20;
    expect([cut.input_tokens, cut.output_tokens, cut.usage_source, cut.error_code, cut.status]).toEqual([
      300,
      out,
      'estimated',
      'client_disconnected',
      'settled',
    ]);
    expect(grant(tg).held).toBe(0);
  });

  it('settles a response cut short by the upstream leaving, and closes the client', async () => {
    const { tg, fake } = await setup();
    fake.script.push({ text: 'Partial answer', usage: usage(1, 1), hold: true });
    const s = await open(tg);
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.output_text.delta') === 1, 'the delta');
    fake.connections[0]!.socket.terminate();
    expect((await s.closed).code).toBe(1000);
    await allSettled(tg);
    const rows = responseRows(tg);
    expect(rows.map((r) => [r.output_tokens, r.usage_source, r.error_code])).toEqual([
      [countTokens(MODEL, 'Partial answer'), 'estimated', 'upstream_disconnected'],
    ]);
    expect(grant(tg).held).toBe(0);
  });

  it('accepts a browser-style key in the subprotocol, strips it and the beta opt-in before going upstream', async () => {
    const { tg, fake } = await setup();
    const key = tg.keys['acme-key']!;
    const ws = new WebSocket(`${tg.url.replace('http', 'ws')}/v1/realtime?model=${MODEL}`, [
      'realtime',
      `openai-insecure-api-key.${key}`,
      'openai-beta.realtime-v1',
    ]);
    const upgrade = new Promise<string | string[] | undefined>((resolve) =>
      ws.once('upgrade', (res) => resolve(res.headers['x-tollgate-session-id'])),
    );
    const first = await new Promise<Event>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString()) as Event));
      ws.once('error', reject);
    });
    expect(first.type).toBe('session.created');
    expect(ws.protocol).toBe('realtime');
    const conn = fake.connections[0]!;
    expect(conn.protocols).toEqual(['realtime']);
    expect(conn.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(conn.headers['openai-beta']).toBe('realtime=v1');
    expect(JSON.stringify(conn.headers)).not.toContain(key);
    ws.close();
    await allSettled(tg);
    expect(sessionRows(tg).map((r) => [r.key_id, r.status, r.session_id])).toEqual([
      ['acme-key', 'settled', await upgrade],
    ]);
  });

  it('refuses a wrong key with 401 before any upstream connection', async () => {
    const { tg, fake } = await setup();
    const s = await open(tg, 'sk-tg-wrong-0000000000000000000000000000000000000');
    expect(s.errors[0]?.message).toContain('401');
    const raw = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`${tg.url.replace('http', 'ws')}/v1/realtime?model=${MODEL}`, [
        'realtime',
        'openai-insecure-api-key.sk-tg-nope',
      ]);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      ws.on('error', () => undefined);
    });
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body).error.code).toBe('invalid_api_key');
    expect(fake.attempts).toBe(0);
    expect(tg.rows()).toEqual([]);
  });

  it('refuses a session the grants cannot open with 429 insufficient_quota, before any upstream connection', async () => {
    const { tg, fake } = await setup({ tokens: 500, realtime: { leaseTokens: 10_000, minLeaseTokens: 1_000 } });
    const s = await open(tg);
    expect(s.errors[0]?.message).toContain('429');
    expect(fake.attempts).toBe(0);
    expect(tg.rows()).toEqual([]);
  });

  it('keeps back-pressure: a client that stops reading stalls the upstream, and every event arrives unchanged and in order', async () => {
    const { tg, fake } = await setup();
    const s = await open(tg);
    const frames = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({
        type: 'response.output_audio.delta',
        event_id: `event_b${i}`,
        response_id: 'resp_x',
        delta: Buffer.alloc(6000, i % 251).toString('base64'),
      }),
    );
    s.rt.socket.pause();
    fake.sendAll(frames);
    const upstreamSide = fake.connections[0]!.socket;
    // tollgate stops reading the upstream once 1 MiB waits for the client: the upstream's own
    // buffer stops draining (without back-pressure tollgate would read all 24 MB into memory).
    let last = -1;
    let still = 0;
    await until(() => {
      const now = upstreamSide.bufferedAmount;
      still = now > 0 && now === last ? still + 1 : 0;
      last = now;
      return still >= 20;
    }, 'the upstream to stall');
    s.rt.socket.resume();
    await until(() => s.events.length === 1 + frames.length, 'every frame');
    expect(s.events.slice(1).map((e) => JSON.stringify(e))).toEqual(frames);
  });

  it('refuses ephemeral client secrets by default, with the reason', async () => {
    const { tg, fake } = await setup();
    const res = await fetch(`${tg.url}/v1/realtime/client_secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tg.keys['acme-key']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ session: { type: 'realtime', model: MODEL } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unmeterable_session');
    expect(body.error.message).toContain('cannot meter');
    expect(fake.attempts).toBe(0);
  });

  it('forwards client secrets, when the config allows them, only for a company with an unlimited grant covering the model, on a row', async () => {
    const { tg, fake } = await setup({ realtime: { clientSecrets: 'allow_unlimited' } });
    const ask = (key: string) =>
      fetch(`${tg.url}/v1/realtime/client_secrets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ session: { type: 'realtime', model: MODEL } }),
      });
    const limited = await ask(tg.keys['acme-key']!);
    expect(limited.status).toBe(400);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('unmeterable_session');
    expect(fake.secretRequests).toHaveLength(0);

    const secret = await tg
      .client(tg.keys['globex-key'])
      .realtime.clientSecrets.create({ session: { type: 'realtime', model: MODEL } });
    expect(secret.value).toBe('ek_test');
    expect(fake.secretRequests[0]!.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    await allSettled(tg);
    expect(tg.rows().map((r) => [r.company_id, r.endpoint, r.status, r.cost_micro_usd])).toEqual([
      ['globex', '/v1/realtime/client_secrets', 'settled', 0],
    ]);
  });

  it('applies the per-minute rate limit per response: a refused response.create gets an error event, the session goes on', async () => {
    // 2 requests a minute: the opening lease and the renewal after the first response; the renewal
    // after the second is refused, so a third response.create is refused without ending the session.
    const { tg, fake } = await setup({ limits: { key: { rateLimits: { requestsPerMinute: 2 } } } });
    const s = await open(tg);
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 1, 'first response');
    await until(() => responseRows(tg).length === 1 && sessionRows(tg).length === 2, 'the renewal');
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.done') === 2, 'second response');
    await until(() => responseRows(tg).length === 2, 'the second settle');
    s.rt.send({ type: 'response.create', event_id: 'evt_3' });
    s.rt.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'ok' }] },
    });
    await until(() => s.count('error') === 1, 'the rate-limit error event');
    expect(s.events.find((e) => e.type === 'error')!.error).toMatchObject({
      code: 'rate_limit_exceeded',
      event_id: 'evt_3',
    });
    await until(
      () => fake.connections[0]!.received.length === 3,
      'the item forwarded after the refused response.create',
    );
    expect(fake.connections[0]!.received.map((e) => e.type)).toEqual([
      'response.create',
      'response.create',
      'conversation.item.create',
    ]);
    expect(s.rt.socket.readyState).toBe(WebSocket.OPEN);
    s.rt.close();
    await s.closed;
    await allSettled(tg);
    expect(grant(tg)).toEqual({ spent: 60, held: 0 });
  });

  it('closes a session at its maximum length once the response in flight is done', async () => {
    const { tg, fake } = await setup({ realtime: { maxSessionSeconds: 1 } });
    fake.script.push({ text: 'Long answer', usage: usage(40, 10), hold: true });
    const s = await open(tg);
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.created') === 1, 'the response');
    await until(() => s.count('error') === 1, 'the session_expired error event');
    expect(s.events.find((e) => e.type === 'error')!.error.code).toBe('session_expired');
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('error') === 2, 'the refused response.create');
    fake.finish();
    expect(await s.closed).toEqual({ code: 1000, reason: 'session_expired' });
    expect(fake.connections[0]!.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.total_tokens, r.usage_source])).toEqual([[50, 'upstream']]);
  });

  it('cuts off a transcription-only session whose transcription the grants cannot cover, charging it anyway', async () => {
    // The opening lease takes the whole grant, so the first transcription cannot be held.
    const { tg, fake } = await setup({ tokens: 10_000, realtime: { leaseTokens: 10_000, minLeaseTokens: 10_000 } });
    fake.transcriptionUsage = {
      type: 'tokens',
      input_tokens: 50,
      output_tokens: 8,
      total_tokens: 58,
      input_token_details: { text_tokens: 0, audio_tokens: 50 },
    };
    const s = await open(tg);
    s.rt.send({
      type: 'session.update',
      session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } },
    } as never);
    s.rt.send({ type: 'input_audio_buffer.commit' });
    expect(await s.closed).toEqual({ code: 1008, reason: 'insufficient_quota' });
    expect(s.events.find((e) => e.type === 'error')!.error.code).toBe('insufficient_quota');
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.requested_model, r.total_tokens, r.cost_micro_usd])).toEqual([
      ['gpt-4o-transcribe', 58, 380],
    ]);
    expect(tg.query('SELECT SUM(overdraft) AS o FROM debits')[0]!.o).toBe(58);
    expect(grant(tg)).toEqual({ spent: 58, held: 0 });
  });
});
