import { describe, expect, it } from 'vitest';
import { UPSTREAM_KEY, type Tollgate } from './support/harness.js';
import {
  allSettled,
  grant,
  MODEL,
  responseRows,
  sessionRows,
  realtimeTests,
  until,
  usage,
  type Event,
} from './support/realtime-client.js';

/**
 * WebRTC calls through tollgate, as far as the SDP exchange and the sideband go (no media): the
 * offer is relayed with tollgate's key, and the call is metered through the sideband WebSocket
 * tollgate holds to the upstream — the same leases, rows and cut-off as a relayed session. The
 * fake upstream plays the browser's data channel (`call.fake.clientEvent`).
 */
const setup = realtimeTests();

const OFFER =
  'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';

/** POSTs an offer: multipart (`session` given) or bare `application/sdp`. */
async function call(t: Tollgate, credential: string, session?: Record<string, unknown>) {
  let body: FormData | string = OFFER;
  const headers: Record<string, string> = { authorization: `Bearer ${credential}` };
  if (session) {
    body = new FormData();
    body.set('sdp', new Blob([OFFER], { type: 'application/sdp' }));
    body.set('session', new Blob([JSON.stringify(session)], { type: 'application/json' }));
  } else headers['content-type'] = 'application/sdp';
  const res = await fetch(`${t.url}/v1/realtime/calls`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const hangup = (t: Tollgate, id: string, key: string) =>
  fetch(`${t.url}/v1/realtime/calls/${id}/hangup`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });

describe('Realtime: WebRTC calls', () => {
  it("relays a multipart offer on tollgate's key and meters the call on its sideband until it is hung up", async () => {
    const { tg, fake } = await setup();
    fake.script.push({ usage: usage(300, 50) }, { usage: usage(400, 60) });
    const key = tg.keys['acme-key']!;
    const res = await call(tg, key, { type: 'realtime', model: MODEL, instructions: 'Be brief.' });
    expect(res.status).toBe(201);
    const id = fake.calls[0]!.id;
    expect(res.headers.get('location')).toBe(`/v1/realtime/calls/${id}`);
    expect(res.headers.get('content-type')).toBe('application/sdp');
    expect(res.text.startsWith('v=0\r\n')).toBe(true);
    expect(res.headers.get('x-tollgate-session-id')).toMatch(/^rts_/);
    // Upstream: the offer and the session, on tollgate's key; then tollgate's own sideband.
    const upstreamCall = fake.calls[0]!;
    expect(upstreamCall.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(upstreamCall.sdp).toBe(OFFER);
    expect(upstreamCall.session).toEqual({ type: 'realtime', model: MODEL, instructions: 'Be brief.' });
    expect(fake.connections.map((c) => [c.url, c.headers.authorization])).toEqual([
      [`/v1/realtime?call_id=${id}`, `Bearer ${UPSTREAM_KEY}`],
    ]);
    // The browser asks for a response over its data channel; turn detection starts another.
    upstreamCall.fake.clientEvent({ type: 'response.create' });
    await until(() => responseRows(tg).length === 1, 'the first response metered');
    upstreamCall.fake.startResponse();
    await until(() => responseRows(tg).length === 2, 'the second response metered');
    // Only the company that made the call may hang it up.
    expect((await hangup(tg, id, tg.keys['globex-key']!)).status).toBe(404);
    expect(upstreamCall.hungUp).toBe(false);
    expect((await hangup(tg, id, key)).status).toBe(200);
    expect(upstreamCall.hungUp).toBe(true);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.total_tokens, r.usage_source, r.upstream_request_id])).toEqual([
      [350, 'upstream', id],
      [460, 'upstream', id],
    ]);
    expect(new Set(sessionRows(tg).map((r) => r.session_id)).size).toBe(1);
    expect(grant(tg)).toEqual({ spent: 810, held: 0 });
  });

  it("opens a call with a client secret and a bare application/sdp offer: the secret's session goes upstream, once", async () => {
    const { tg, fake } = await setup({ acme: { realtime: { clientSecrets: 'mint' } } });
    const secret = await tg.client().realtime.clientSecrets.create({
      session: { type: 'realtime', model: MODEL, instructions: 'From the secret.' },
    });
    // A session part beside a secret is refused before the secret is used.
    const both = await call(tg, secret.value, { type: 'realtime', model: MODEL });
    expect([both.status, (JSON.parse(both.text) as { error: Event }).error.param]).toEqual([400, 'session']);
    const res = await call(tg, secret.value);
    expect(res.status).toBe(201);
    expect(fake.calls[0]!.session).toEqual({ type: 'realtime', model: MODEL, instructions: 'From the secret.' });
    expect(JSON.stringify(fake.calls[0]!.headers)).not.toContain(secret.value);
    expect((await call(tg, secret.value)).status).toBe(401);
    // A key has no session to bring: a bare offer is refused.
    const bare = await call(tg, tg.keys['acme-key']!);
    expect(bare.status).toBe(400);
    expect((JSON.parse(bare.text) as { error: Event }).error.param).toBe('session');
    expect(fake.calls).toHaveLength(1);
  });

  it('cuts a call off when a response cannot be leased: cancelled on the sideband, then hung up', async () => {
    const { tg, fake } = await setup({ tokens: 12_000, realtime: { leaseTokens: 10_000, minLeaseTokens: 10_000 } });
    fake.script.push({ usage: usage(4_000, 1_000) }, { usage: usage(4_000, 10), hold: true });
    expect((await call(tg, tg.keys['acme-key']!, { type: 'realtime', model: MODEL })).status).toBe(201);
    const upstreamCall = fake.calls[0]!;
    upstreamCall.fake.startResponse();
    await until(() => responseRows(tg).length === 1, 'the first response metered');
    upstreamCall.fake.startResponse();
    await until(() => upstreamCall.hungUp, 'the call hung up');
    expect(upstreamCall.fake.received.map((e) => e.type)).toEqual(['response.cancel']);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => r.total_tokens)).toEqual([5_000, 4_010]);
    expect(grant(tg)).toEqual({ spent: 9_010, held: 0 });
  });

  it("passes the upstream's refusal of a call through, and voids its lease", async () => {
    const { tg, fake } = await setup();
    const error = { error: { message: 'Invalid SDP offer.', type: 'invalid_request_error', param: 'sdp', code: null } };
    fake.refuseNextCall = { status: 400, body: error };
    const res = await call(tg, tg.keys['acme-key']!, { type: 'realtime', model: MODEL });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual(error);
    expect(fake.connections).toEqual([]);
    await allSettled(tg);
    expect(sessionRows(tg).map((r) => [r.status, r.http_status, r.error_code])).toEqual([
      ['voided', 400, 'upstream_400'],
    ]);
    expect(grant(tg)).toEqual({ spent: 0, held: 0 });
  });

  it('refuses an offer it cannot read, before anything goes upstream', async () => {
    const { tg, fake } = await setup();
    const key = tg.keys['acme-key']!;
    const dup = new FormData();
    dup.set('sdp', OFFER);
    dup.set('session', `{"type":"realtime","model":"${MODEL}","model":"gpt-4o"}`);
    const res = await fetch(`${tg.url}/v1/realtime/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: dup,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: Event }).error).toMatchObject({
      code: 'duplicate_key',
      param: 'session.model',
    });
    const notSdp = await fetch(`${tg.url}/v1/realtime/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(notSdp.status).toBe(400);
    expect((await call(tg, 'sk-tg-wrong', { type: 'realtime', model: MODEL })).status).toBe(401);
    expect(fake.httpRequests).toEqual([]);
    expect(tg.rows()).toEqual([]);
  });
});
