import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { UPSTREAM_KEY, type Tollgate } from './support/harness.js';
import {
  allSettled,
  MODEL,
  open,
  responseRows,
  sessionRows,
  realtimeTests,
  until,
  type Event,
} from './support/realtime-client.js';

/**
 * Opening a Realtime session: credentials (the Authorization header, the browser's subprotocol),
 * refusals before anything goes upstream, and client secrets tollgate mints itself — short-lived,
 * single-use, bound to the company and the caller, carrying the session settings within the
 * admin's limits — which a browser uses in place of a key, and which never are the upstream's.
 */
const setup = realtimeTests();

/** Opens a WebSocket the way a browser does (credential in the subprotocol); resolves on its first event, or with the HTTP refusal. */
function browserConnect(t: Tollgate, credential: string, query = `model=${MODEL}`) {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/realtime?${query}`, [
    'realtime',
    `openai-insecure-api-key.${credential}`,
  ]);
  const events: Event[] = [];
  ws.on('message', (d) => events.push(JSON.parse(d.toString()) as Event));
  return new Promise<{ ws: WebSocket; events: Event[] } | { status: number; error: Event }>((resolve) => {
    ws.once('message', () => resolve({ ws, events }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, error: (JSON.parse(body) as { error: Event }).error }));
    });
    ws.on('error', () => undefined);
  });
}

const MINT = { realtime: { clientSecrets: 'mint' } };

async function mint(t: Tollgate, body: Record<string, unknown>, key = t.keys['acme-key']!) {
  const res = await fetch(`${t.url}/v1/realtime/client_secrets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Event };
}

describe('Realtime: connecting', () => {
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

  it('mints no client secret unless enabled for the company, and never passes an upstream secret endpoint through', async () => {
    const { tg, fake } = await setup({ acme: {}, realtime: {} });
    const refused = await mint(tg, { session: { type: 'realtime', model: MODEL } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ type: 'invalid_request_error', code: 'client_secrets_disabled' });
    for (const path of ['/v1/realtime/sessions', '/v1/realtime/transcription_sessions']) {
      const res = await fetch(`${tg.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tg.keys['acme-key']}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: Event }).error.code).toBe('unmeterable_session');
    }
    const other = await fetch(`${tg.url}/v1/realtime/calls/rtc_123/accept`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tg.keys['acme-key']}` },
    });
    expect(other.status).toBe(404);
    expect(fake.httpRequests).toEqual([]);
    expect(fake.attempts).toBe(0);
  });

  it("mints a short-lived secret that opens one metered session from a browser, with its settings, on tollgate's key", async () => {
    const { tg, fake } = await setup({ acme: MINT });
    const before = Date.now() / 1000;
    const secret = await tg.client().realtime.clientSecrets.create({
      expires_after: { anchor: 'created_at', seconds: 120 },
      session: { type: 'realtime', model: MODEL, instructions: 'Be brief.', output_modalities: ['text'] },
    });
    expect(secret.value).toMatch(/^ek_tg_[\w-]{43}$/);
    expect(secret.expires_at).toBeGreaterThanOrEqual(Math.floor(before) + 119);
    expect(secret.expires_at).toBeLessThanOrEqual(Date.now() / 1000 + 120);
    expect(secret.session).toMatchObject({ object: 'realtime.session', type: 'realtime', model: MODEL });
    // Minting asked the upstream for nothing: no upstream secret exists to leak.
    expect(fake.httpRequests).toEqual([]);
    // The browser connects with the secret alone (the session's model comes with it).
    const opened = await browserConnect(tg, secret.value, '');
    if (!('ws' in opened)) throw new Error(`refused: ${JSON.stringify(opened)}`);
    await until(() => opened.events.some((e) => e.type === 'session.updated'), 'the settings applied');
    const conn = fake.connections[0]!;
    expect(conn.url).toBe(`/v1/realtime?model=${MODEL}`);
    expect(conn.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify([conn.headers, conn.protocols])).not.toContain(secret.value);
    expect(conn.received[0]).toMatchObject({
      type: 'session.update',
      session: { type: 'realtime', instructions: 'Be brief.', output_modalities: ['text'] },
    });
    expect(conn.received[0]!.session.model).toBeUndefined();
    opened.ws.send(JSON.stringify({ type: 'response.create' }));
    await until(() => opened.events.some((e) => e.type === 'response.done'), 'the response');
    // Single use: the same secret opens nothing more.
    const again = await browserConnect(tg, secret.value, '');
    expect(again).toMatchObject({ status: 401, error: { code: 'invalid_api_key' } });
    expect(String((again as { error: Event }).error.message)).toContain('already used');
    opened.ws.close();
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.company_id, r.key_id, r.total_tokens])).toEqual([['acme', 'acme-key', 30]]);
    expect(fake.attempts).toBe(1);
  });

  it("holds a secret to the admin's limits: lifetime, models, a strict body; a secret mints nothing and names its model", async () => {
    const { tg } = await setup({
      acme: { realtime: { clientSecrets: 'mint', clientSecretMaxSeconds: 300, clientSecretModels: [MODEL] } },
    });
    const session = { type: 'realtime', model: MODEL };
    expect(await mint(tg, { session, expires_after: { seconds: 301 } })).toMatchObject({
      status: 400,
      body: { error: { param: 'expires_after.seconds' } },
    });
    expect(await mint(tg, { session: { type: 'realtime', model: 'gpt-4o' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'model_not_allowed', param: 'session.model' } },
    });
    expect(await mint(tg, { session: { type: 'realtime' } })).toMatchObject({
      status: 400,
      body: { error: { param: 'session.model' } },
    });
    expect(await mint(tg, { session, user: 'x' })).toMatchObject({ status: 400, body: { error: { param: 'user' } } });
    const dup = await fetch(`${tg.url}/v1/realtime/client_secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tg.keys['acme-key']}`, 'content-type': 'application/json' },
      body: `{"session":{"type":"realtime","model":"${MODEL}","model":"gpt-4o"}}`,
    });
    expect(dup.status).toBe(400);
    expect(((await dup.json()) as { error: Event }).error).toMatchObject({
      code: 'duplicate_key',
      param: 'session.model',
    });
    // Within the limits: 300 s at most.
    const ok = await mint(tg, { session });
    expect(ok.status).toBe(200);
    expect(ok.body.expires_at - Date.now() / 1000).toBeLessThanOrEqual(300);
    // A secret is not a key: it cannot mint another, and opens only its own model.
    expect((await mint(tg, { session }, ok.body.value)).status).toBe(401);
    expect(await browserConnect(tg, ok.body.value, 'model=gpt-4o')).toMatchObject({
      status: 400,
      error: { param: 'model' },
    });
  });

  it('refuses an expired secret', async () => {
    let now = new Date('2026-12-01T10:00:00.000Z');
    const { tg } = await setup({ acme: MINT, clock: () => now });
    const secret = await mint(tg, { session: { type: 'realtime', model: MODEL } });
    expect(secret.body.expires_at).toBe(Date.parse('2026-12-01T10:10:00.000Z') / 1000);
    now = new Date('2026-12-01T10:10:00.000Z');
    const refused = await browserConnect(tg, secret.body.value);
    expect(refused).toMatchObject({ status: 401, error: { code: 'invalid_api_key' } });
    expect(String((refused as { error: Event }).error.message)).toContain('expired');
    expect(sessionRows(tg)).toEqual([]);
  });

  it('binds a secret a user token minted to that user: the session is metered on the user', async () => {
    process.env.REALTIME_TEST_JWT_SECRET = 'realtime-test-secret-0123456789abcdef';
    const { tg } = await setup({
      acme: { ...MINT, jwt: { algorithms: ['HS256'], secretEnv: 'REALTIME_TEST_JWT_SECRET' } },
    });
    const token = await new SignJWT({ sub: 'alice', company: 'acme', sid: 'browser-tab-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(process.env.REALTIME_TEST_JWT_SECRET));
    const secret = await mint(tg, { session: { type: 'realtime', model: MODEL } }, token);
    expect(secret.status).toBe(200);
    const opened = await browserConnect(tg, secret.body.value);
    if (!('ws' in opened)) throw new Error(`refused: ${JSON.stringify(opened)}`);
    opened.ws.send(JSON.stringify({ type: 'response.create' }));
    await until(() => opened.events.some((e) => e.type === 'response.done'), 'the response');
    opened.ws.close();
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.company_id, r.key_id, r.user_id])).toEqual([['acme', null, 'alice']]);
  });
});
