import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import type { Row } from './support/harness.js';
import {
  allSettled,
  grant,
  heldNow,
  open,
  responseRows,
  sessionRows,
  realtimeTests,
  until,
  usage,
} from './support/realtime-client.js';

/**
 * Realtime leases follow what the upstream runs, against a fake that behaves like OpenAI's GA
 * Realtime API (one in-conversation response at a time, out-of-band responses concurrently), with
 * the official SDK as client: a frame means what it parses to, a refused create's lease is released,
 * running out of quota refuses a create with an error event instead of hanging up.
 */
const setup = realtimeTests();

/** The most tokens the session's rows held at once (from each row's hold, admission and settle instants). */
function peakHeld(rows: Row[]): number {
  const moves = rows
    .filter((r) => Number(r.hold_tokens) > 0)
    .flatMap((r) => [
      { at: String(r.created_at), delta: Number(r.hold_tokens) },
      { at: String(r.settled_at ?? '9999'), delta: -Number(r.hold_tokens) },
    ])
    // At one instant, releases first: a renewal is admitted after the settle before it.
    .sort((a, b) => a.at.localeCompare(b.at) || a.delta - b.delta);
  let held = 0;
  let peak = 0;
  for (const m of moves) peak = Math.max(peak, (held += m.delta));
  return peak;
}

describe('Realtime: a frame means what it parses to', () => {
  it('meters an escaped response\\u002ecreate as the create it is, under the per-minute limit, and forwards it canonically', async () => {
    const { tg, fake } = await setup({ limits: { key: { rateLimits: { requestsPerMinute: 2 } } } });
    const s = await open(tg);
    const escaped = '{"type":"response\\u002ecreate","event_id":"evt_1"}';
    s.rt.socket.send(escaped);
    await until(() => s.count('response.done') === 1, 'the first response');
    await until(() => sessionRows(tg).length === 2, 'the renewed standby (the second request of the minute)');
    s.rt.socket.send(escaped.replace('evt_1', 'evt_2'));
    await until(() => s.count('response.done') === 2, 'the second response');
    await until(() => responseRows(tg).length === 2, 'the second settle');
    // The third escaped create is a third response in the minute: refused, not forwarded.
    s.rt.socket.send(escaped.replace('evt_1', 'evt_3'));
    await until(() => s.count('error') === 1, 'the rate-limit error event');
    expect(s.errorEvents()[0]).toMatchObject({ code: 'rate_limit_exceeded', event_id: 'evt_3' });
    const conn = fake.connections[0]!;
    expect(conn.frames).toEqual([
      '{"type":"response.create","event_id":"evt_1"}',
      '{"type":"response.create","event_id":"evt_2"}',
    ]);
    expect(fake.connections[0]!.session.started).toBe(2);
  });

  it('refuses a frame with a duplicate type, a non-object and a binary frame with error events, forwarding nothing', async () => {
    const { tg, fake } = await setup();
    const s = await open(tg);
    s.rt.socket.send('{"type":"session.update","type":"response.create"}');
    s.rt.socket.send('{"type":"conversation.item.create","item":{"type":"message","type":"function_call"}}');
    s.rt.socket.send('["response.create"]');
    s.rt.socket.send(Buffer.from('{"type":"response.create"}'), { binary: true });
    await until(() => s.count('error') === 4, 'four error events');
    expect(s.errorEvents().map((e) => [e.type, e.code, e.param])).toEqual([
      ['invalid_request_error', 'duplicate_key', 'type'],
      ['invalid_request_error', 'duplicate_key', 'item.type'],
      ['invalid_request_error', 'invalid_event', null],
      ['invalid_request_error', 'binary_frame', null],
    ]);
    // The session is alive and nothing of those reached the upstream.
    s.rt.send({ type: 'input_audio_buffer.clear' });
    await until(() => fake.connections[0]!.received.length === 1, 'the next event forwarded');
    expect(fake.connections[0]!.frames).toEqual(['{"type":"input_audio_buffer.clear"}']);
    expect(fake.connections[0]!.session.started).toBe(0);
    s.rt.close();
    await s.closed;
    await allSettled(tg);
    expect(responseRows(tg)).toEqual([]);
  });
});

describe('Realtime: leases follow the upstream', () => {
  it('leases one of six concurrent in-conversation creates; the five the upstream refuses leave no hold', async () => {
    const { tg, fake } = await setup({ tokens: 17_000, realtime: { leaseTokens: 4_000, minLeaseTokens: 4_000 } });
    fake.script.push({ text: 'One', usage: usage(3_000, 1_000), hold: true });
    const s = await open(tg);
    for (let i = 0; i < 6; i++) s.rt.send({ type: 'response.create', event_id: `evt_${i}` });
    await until(() => s.count('error') === 5, 'five refusals');
    fake.finish();
    await until(() => s.count('response.done') === 1, 'the response');
    expect(s.errorEvents().map((e) => [e.code, e.event_id])).toEqual(
      [1, 2, 3, 4, 5].map((i) => ['conversation_already_has_active_response', `evt_${i}`]),
    );
    await until(
      () => sessionRows(tg).filter((r) => r.status !== 'held').length === 6,
      'the response settled, the refused voided',
    );
    const rows = sessionRows(tg);
    // Every create forwarded has its row: the one that ran settled, the five refused voided with the upstream's code.
    expect(rows.filter((r) => r.status === 'voided').map((r) => [r.error_code, r.hold_tokens])).toEqual(
      Array(5).fill(['conversation_already_has_active_response', 0]),
    );
    expect(responseRows(tg).map((r) => r.total_tokens)).toEqual([4_000]);
    expect(peakHeld(rows)).toBe(4_000);
    expect(grant(tg)).toEqual({ spent: 4_000, held: 4_000 }); // the standby for the next response
  });

  it('leases each of six concurrent out-of-band creates on a small grant; those it cannot cover are refused, never overdrawn', async () => {
    const { tg, fake } = await setup({
      tokens: 17_000,
      realtime: { leaseTokens: 4_000, minLeaseTokens: 4_000 },
    });
    for (let i = 0; i < 6; i++) fake.script.push({ text: `R${i}`, usage: usage(3_000, 1_000), hold: true });
    const s = await open(tg);
    for (let i = 0; i < 6; i++)
      s.rt.send({ type: 'response.create', event_id: `oob_${i}`, response: { conversation: 'none' } });
    // The standby (4,000) stays for the conversation: 13,000 cover three out-of-band leases.
    await until(() => s.count('response.created') === 3 && s.count('error') === 3, 'three run, three refused');
    expect(s.errorEvents().map((e) => [e.code, e.event_id])).toEqual(
      [3, 4, 5].map((i) => ['insufficient_quota', `oob_${i}`]),
    );
    expect(fake.connections[0]!.received.filter((e) => e.type === 'response.create')).toHaveLength(3);
    expect(
      s.events.filter((e) => e.type === 'response.created').every((e) => e.response.conversation_id === null),
    ).toBe(true);
    fake.finish();
    await until(() => s.count('response.done') === 3, 'the three responses done');
    await until(() => responseRows(tg).length === 3, 'three rows settled');
    expect(grant(tg).spent).toBe(12_000);
    expect(s.rt.socket.readyState).toBe(WebSocket.OPEN);
    s.rt.close();
    await s.closed;
    await allSettled(tg);
    expect(tg.query('SELECT COALESCE(SUM(overdraft), 0) AS o FROM debits')[0]!.o).toBe(0);
    expect(grant(tg)).toEqual({ spent: 12_000, held: 0 });
  });

  it('releases the lease of a create the upstream refuses: six rounds hold one lease between responses', async () => {
    // Six rounds of one response and one create refused while it runs (the bug this guards against held
    // 16,384 more tokens each round until the session was cut off having spent a quarter of its grant).
    const { tg, fake } = await setup({ tokens: 100_000 });
    const s = await open(tg);
    for (let round = 1; round <= 6; round++) {
      fake.script.push({ text: 'Answer', usage: usage(3_000, 1_000), hold: true });
      s.rt.send({ type: 'response.create' });
      await until(() => s.count('response.created') === round, `response ${round} started`);
      s.rt.send({ type: 'response.create', event_id: `again_${round}` });
      await until(() => s.count('error') === round, `create ${round} refused`);
      fake.finish();
      await until(() => responseRows(tg).length === round && heldNow(tg) === 16_384, `round ${round} settled`);
    }
    // The refusals came back with the client's event ids; the ids tollgate set never reached the client.
    expect(s.errorEvents().map((e) => e.event_id)).toEqual([1, 2, 3, 4, 5, 6].map((r) => `again_${r}`));
    expect(grant(tg)).toEqual({ spent: 24_000, held: 16_384 });
    expect(peakHeld(sessionRows(tg))).toBe(16_384);
    s.rt.close();
    await allSettled(tg);
    expect(grant(tg)).toEqual({ spent: 24_000, held: 0 });
  });

  it('voids the lease of a create the upstream refuses for its parameters, and gives back the client its own event id (or none)', async () => {
    const { tg, fake } = await setup({ tokens: 100_000, realtime: { leaseTokens: 10_000 } });
    fake.turnDetection = null; // no standby kept: every create is leased on its own
    const s = await open(tg);
    s.rt.send({ type: 'response.create', response: { max_output_tokens: 99_999 } });
    await until(() => s.count('error') === 1, 'the refusal');
    expect(s.errorEvents()[0]).toMatchObject({ code: 'invalid_value', event_id: null });
    s.rt.send({ type: 'response.create', event_id: 'mine', response: { max_output_tokens: 0 } });
    await until(() => s.count('error') === 2, 'the second refusal');
    expect(s.errorEvents()[1]).toMatchObject({ code: 'invalid_value', event_id: 'mine' });
    await until(() => heldNow(tg) === 0, 'both leases released');
    expect(sessionRows(tg).map((r) => [r.status, r.error_code])).toEqual([
      ['voided', 'invalid_value'],
      ['voided', 'invalid_value'],
    ]);
    expect(fake.connections[0]!.session.started).toBe(0);
  });

  it('lets the one response the upstream started finish when twenty creates arrive at once, holding one lease', async () => {
    const { tg, fake } = await setup({ tokens: 200_000, realtime: { leaseTokens: 10_000 } });
    fake.script.push({ text: 'The only answer', usage: usage(5_000, 2_000), hold: true });
    const s = await open(tg);
    for (let i = 0; i < 20; i++) s.rt.send({ type: 'response.create' });
    await until(() => s.count('error') === 19, 'nineteen refused by the upstream');
    expect(new Set(s.errorEvents().map((e) => e.code))).toEqual(new Set(['conversation_already_has_active_response']));
    expect(heldNow(tg)).toBe(10_000);
    fake.finish();
    await until(() => s.count('response.done') === 1, 'the response reached the client');
    expect(s.events.find((e) => e.type === 'response.output_text.delta')!.delta).toBe('The only answer');
    expect(s.rt.socket.readyState).toBe(WebSocket.OPEN);
    s.rt.close();
    expect((await s.closed).code).toBe(1000);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => r.total_tokens)).toEqual([7_000]);
    expect(peakHeld(sessionRows(tg))).toBe(10_000);
    expect(grant(tg)).toEqual({ spent: 7_000, held: 0 });
  });

  it('leases late a create the upstream ran although a response was active (a race), or cancels it when nothing is left', async () => {
    const { tg, fake } = await setup({ tokens: 25_000, realtime: { leaseTokens: 10_000, minLeaseTokens: 10_000 } });
    fake.acceptWhileActive = true;
    fake.script.push(
      { text: 'One', usage: usage(3_000, 1_000), hold: true },
      { text: 'Two', usage: usage(3_000, 1_000), hold: true },
      { text: 'Three', usage: usage(3_000, 10), hold: true },
    );
    const s = await open(tg);
    s.rt.send({ type: 'response.create', event_id: 'one' });
    await until(() => s.count('response.created') === 1, 'the first response');
    // Sent while the first runs: forwarded on a row without a hold; the upstream runs it anyway.
    s.rt.send({ type: 'response.create', event_id: 'two' });
    await until(() => s.count('response.created') === 2 && heldNow(tg) === 20_000, 'the second, leased late');
    // The third: 5,000 left cannot cover a lease, so it is cancelled and the session cut off.
    s.rt.send({ type: 'response.create', event_id: 'three' });
    await until(() => s.count('error') === 1, 'the insufficient_quota error');
    expect(s.errorEvents()[0]).toMatchObject({ code: 'insufficient_quota' });
    fake.finish();
    expect(await s.closed).toEqual({ code: 1008, reason: 'insufficient_quota' });
    expect(s.events.filter((e) => e.type === 'response.done').map((e) => e.response.status)).toEqual([
      'cancelled',
      'completed',
      'completed',
    ]);
    await allSettled(tg);
    // One charged row per response; the second's row without a hold was settled at zero once it was leased.
    expect(
      responseRows(tg)
        .map((r) => Number(r.total_tokens))
        .sort(),
    ).toEqual([3_010, 4_000, 4_000]);
    expect(sessionRows(tg).filter((r) => r.error_code === 'leased_late')).toHaveLength(1);
    expect(grant(tg)).toEqual({ spent: 11_010, held: 0 });
  });

  it('cancels a response the upstream starts by itself when no lease can be had, and cuts the session off after it', async () => {
    // Turn detection starts responses: the opening standby covers the first; the grant cannot renew it.
    const { tg, fake } = await setup({ tokens: 12_000, realtime: { leaseTokens: 10_000, minLeaseTokens: 10_000 } });
    fake.script.push({ text: 'First', usage: usage(4_000, 1_000) });
    const s = await open(tg);
    fake.connections[0]!.session.startResponse();
    await until(() => s.count('response.done') === 1, 'the first response');
    await until(() => responseRows(tg).length === 1, 'its settle');
    expect(grant(tg)).toEqual({ spent: 5_000, held: 0 }); // 7,000 left: no standby of 10,000
    fake.script.push({ text: 'Second', usage: usage(4_000, 10), hold: true });
    fake.connections[0]!.session.startResponse();
    // tollgate cancels it, tells the client why, and closes once it is done.
    expect(await s.closed).toEqual({ code: 1008, reason: 'insufficient_quota' });
    expect(s.errorEvents()[0]).toMatchObject({ code: 'insufficient_quota', event_id: null });
    const done = s.events.filter((e) => e.type === 'response.done');
    expect(done.map((e) => e.response.status)).toEqual(['completed', 'cancelled']);
    await allSettled(tg);
    // The cancelled response is charged what it used, beyond the grant if need be (one response at most).
    expect(responseRows(tg).map((r) => r.total_tokens)).toEqual([5_000, 4_010]);
    expect(grant(tg)).toEqual({ spent: 9_010, held: 0 });
  });
});
