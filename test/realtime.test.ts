import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { countTokens } from '../src/metering/tokenizer.js';
import { UPSTREAM_KEY } from './support/harness.js';
import {
  allSettled,
  grant,
  MODEL,
  open,
  responseRows,
  sessionRows,
  realtimeTests,
  until,
  usage,
} from './support/realtime-client.js';

/**
 * The Realtime API through tollgate: the official SDK's `OpenAIRealtimeWS` against a fake upstream
 * Realtime server, every session metered per response on the ledger.
 */
const setup = realtimeTests();

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
    // What the client sent reached the upstream, in order, as the canonical text of what tollgate
    // read; each response.create carries an event_id tollgate set (the client sent none), so the
    // upstream's answer to it can always be matched.
    const ids = conn.received.filter((e) => e.type === 'response.create').map((e) => e.event_id as string);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^evt_tg[\w-]+$/);
    expect(conn.frames).toEqual(
      [sent[0], sent[1], { ...sent[2], event_id: ids[0] }, { type: 'response.create', event_id: ids[1] }].map((e) =>
        JSON.stringify(e),
      ),
    );
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

  it('refuses a create the grant cannot lease with an insufficient_quota error event, and the session goes on', async () => {
    // Leases of 10,000 tokens: the opening one leaves 15,000; after the first response (8,000) the
    // renewed standby leaves 7,000, so an out-of-band create beside the second response cannot be leased.
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
      'the renewed standby lease',
    );
    s.rt.send({ type: 'response.create' });
    await until(() => s.count('response.created') === 2, 'second response started');
    s.rt.send({ type: 'response.create', event_id: 'evt_third', response: { conversation: 'none' } });
    await until(() => s.count('error') === 1, 'the insufficient_quota error event');
    expect(s.errorEvents()[0]).toMatchObject({
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      param: null,
      event_id: 'evt_third',
    });
    expect(s.errors[0]?.message).toContain('insufficient_quota');
    // The session goes on: other events pass, and the response in flight finishes.
    s.rt.send({
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'still here' }] },
    });
    await until(() => fake.connections[0]!.received.length === 3, 'the item forwarded');
    expect(fake.connections[0]!.received.filter((e) => e.type === 'response.create')).toHaveLength(2);
    fake.finish();
    await until(() => s.count('response.done') === 2, 'the second response done');
    await until(() => responseRows(tg).length === 2, 'the second response settled');
    // With 9,000 left no lease can be had: the next create is refused too, the session stays open.
    s.rt.send({ type: 'response.create', event_id: 'evt_fourth' });
    await until(() => s.count('error') === 2, 'the second error event');
    expect(s.errorEvents()[1]).toMatchObject({ code: 'insufficient_quota', event_id: 'evt_fourth' });
    expect(s.rt.socket.readyState).toBe(WebSocket.OPEN);
    s.rt.close();
    expect((await s.closed).code).toBe(1000);
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
    expect(s.errorEvents()[0]).toMatchObject({
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
