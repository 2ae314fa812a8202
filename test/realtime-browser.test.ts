import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeRealtime } from './support/fake-realtime.js';
import { UPSTREAM_KEY, type Tollgate } from './support/harness.js';
import { allSettled, MODEL, responseRows, startRealtime, until, usage } from './support/realtime-client.js';

/**
 * A browser voice app through tollgate, in Chromium (Debian's, driven by playwright-core): the
 * app's server mints a tollgate client secret with the company key (the key never reaches the
 * page); the page opens the Realtime WebSocket with the secret alone — the way OpenAI's browser
 * clients pass a credential, as the `openai-insecure-api-key.<secret>` subprotocol — asks for a
 * response and is metered; then it makes a WebRTC call with a second secret (its own SDP offer,
 * posted cross-origin to tollgate), metered on tollgate's sideband.
 */
const CHROMIUM = '/usr/bin/chromium';

let browser: Browser;
let tg: Tollgate;
let fake: FakeRealtime;
let app: Server;
let appUrl: string;

/** The page: asks its server for a secret, then talks to tollgate directly. */
const PAGE = (tollgate: string) => `<!doctype html><meta charset="utf-8"><title>voice app</title><script>
const secret = async () => (await (await fetch('/secret', { method: 'POST' })).json()).value;
window.ws = { events: [] };
window.openSession = async () => {
  const ws = new WebSocket('${tollgate.replace('http', 'ws')}/v1/realtime', ['realtime', 'openai-insecure-api-key.' + (await secret())]);
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    window.ws.events.push(e.type);
    if (e.type === 'session.created') ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['text'] } }));
    if (e.type === 'response.done') ws.close(1000);
  };
  ws.onclose = (c) => (window.ws.closed = c.code);
};
window.call = async () => {
  const pc = new RTCPeerConnection();
  pc.createDataChannel('oai-events');
  await pc.setLocalDescription(await pc.createOffer());
  const offer = pc.localDescription.sdp;
  const res = await fetch('${tollgate}/v1/realtime/calls', {
    method: 'POST',
    body: offer,
    headers: { authorization: 'Bearer ' + (await secret()), 'content-type': 'application/sdp' },
  });
  return { status: res.status, location: res.headers.get('location'), answer: (await res.text()).slice(0, 4), offer };
};
</script>`;

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  ({ tg, fake } = await startRealtime({ acme: { realtime: { clientSecrets: 'mint', clientSecretMaxSeconds: 60 } } }));
  // The app's server: holds the key, mints a secret per session.
  app = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/secret') {
      void tg
        .client()
        .realtime.clientSecrets.create({
          session: { type: 'realtime', model: MODEL, instructions: 'Answer in one word.' },
        })
        .then((s) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: s.value })),
        );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE(tg.url));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => app?.close(r));
  await tg?.close();
  await fake?.close();
});

describe('Realtime from a browser', () => {
  it('obtains a tollgate client secret, connects over WebSocket with it, and is metered', async () => {
    fake.script.push({ text: 'Hello', usage: usage(120, 8) });
    const page = await browser.newPage();
    await page.goto(appUrl);
    await page.evaluate(() => (window as unknown as { openSession(): Promise<void> }).openSession());
    await page.waitForFunction(() => (window as unknown as { ws: { closed?: number } }).ws.closed !== undefined);
    const seen = await page.evaluate(() => (window as unknown as { ws: { events: string[]; closed: number } }).ws);
    expect(seen.closed).toBe(1000);
    expect(seen.events).toEqual(
      expect.arrayContaining(['session.created', 'session.updated', 'response.created', 'response.done']),
    );
    // Upstream: tollgate's key and the secret's settings; never the company key nor the secret.
    const conn = fake.connections.at(-1)!;
    expect(conn.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(conn.received[0]).toMatchObject({
      type: 'session.update',
      session: { instructions: 'Answer in one word.' },
    });
    expect(await page.content()).not.toContain(tg.keys['acme-key']);
    await allSettled(tg);
    expect(responseRows(tg).map((r) => [r.company_id, r.key_id, r.total_tokens, r.usage_source])).toEqual([
      ['acme', 'acme-key', 128, 'upstream'],
    ]);
    await page.close();
  });

  it('makes a WebRTC call with a client secret: its offer goes upstream, the call is metered on the sideband', async () => {
    const page = await browser.newPage();
    await page.goto(appUrl);
    const result = await page.evaluate(() =>
      (
        window as unknown as { call(): Promise<{ status: number; location: string; answer: string; offer: string }> }
      ).call(),
    );
    expect(result.status).toBe(201);
    const upstreamCall = fake.calls.at(-1)!;
    expect(result.location).toBe(`/v1/realtime/calls/${upstreamCall.id}`);
    expect(result.answer).toBe('v=0\r');
    expect(upstreamCall.sdp).toBe(result.offer);
    expect(upstreamCall.session).toMatchObject({ type: 'realtime', model: MODEL, instructions: 'Answer in one word.' });
    // The browser's data channel asks for a response: metered through tollgate's sideband.
    const before = responseRows(tg).length;
    fake.script.push({ usage: usage(200, 20) });
    upstreamCall.fake.clientEvent({ type: 'response.create' });
    await until(() => responseRows(tg).length === before + 1, 'the call response metered');
    expect(responseRows(tg).at(-1)).toMatchObject({ upstream_request_id: upstreamCall.id, total_tokens: 220 });
    await page.close();
  });
});
