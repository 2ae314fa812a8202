import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../src/alerts/webhook.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/** Threshold, low-balance and spike alerts fire exactly once; a failing webhook never touches requests. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!; // 22 tokens
// Held exactly what it uses: 18 prompt tokens counted (as recorded) + max_tokens 4 (the recorded completion).
const body = JSON.stringify({ ...(chat.request.body as object), max_tokens: 4 });
process.env.ALERTS_JWT_SECRET = 'alerts-secret-0123456789abcdef0123456789';
process.env.ALERTS_WEBHOOK_SECRET = 'whsec-test';

interface Hook {
  body: Record<string, unknown>;
  raw: string;
  headers: Record<string, string | string[] | undefined>;
}

let upstream: FakeUpstream;
let hookServer: Server;
let hookUrl = '';
const hooks: Hook[] = [];
let hookStatus = 200;
const open: Tollgate[] = [];
let now = new Date('2026-11-22T12:00:00Z');

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
  upstream.delayMs = 0;
  hookServer = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      hooks.push({ body: JSON.parse(raw) as Record<string, unknown>, raw, headers: req.headers });
      res.writeHead(hookStatus).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  hooks.length = 0;
  hookStatus = 200;
});
afterAll(async () => {
  await upstream.close();
  await new Promise((r) => hookServer.close(r));
});

async function tollgate(company: Record<string, unknown>, alerts: Record<string, unknown> = {}): Promise<Tollgate> {
  const t = await startTollgate({
    upstreamUrl: upstream.url,
    clock: () => now,
    companies: {
      acme: {
        allocations: [{ id: 'g', tokens: 10_000_000 }],
        jwt: { algorithms: ['HS256'], secretEnv: 'ALERTS_JWT_SECRET' },
        ...company,
      },
    },
    alerts: { webhookUrl: hookUrl, webhookSecretEnv: 'ALERTS_WEBHOOK_SECRET', ...alerts },
    webhook: { retryBaseMs: 20, maxAttempts: 3 },
  });
  open.push(t);
  return t;
}

const token = (sub: string) =>
  new SignJWT({ company: 'acme' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(4102444800)
    .sign(new TextEncoder().encode(process.env.ALERTS_JWT_SECRET));

async function send(t: Tollgate, credential: string): Promise<number> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Waits until every request row has settled (the alert checks run as a row settles, and record an
 * alert row before queueing its webhook), then until every alert recorded has been delivered and
 * received. Absence is asserted on that positive signal: no alert row after settling means no
 * webhook was queued.
 */
async function settle(t: Tollgate): Promise<void> {
  await t.settled();
  await waitUntil(
    () => {
      const [row] = t.query('SELECT COUNT(*) AS n, COUNT(delivered_at) AS delivered FROM alerts') as {
        n: number;
        delivered: number;
      }[];
      return row!.delivered === row!.n && hooks.length >= row!.n;
    },
    { what: 'every recorded alert delivered' },
  );
}

const kinds = () => hooks.map((h) => h.body.kind).sort();

describe('alerts', () => {
  it('fire at 80% and 95% of a quota exactly once per window, signed', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({ limits: { user: { quotas: { daily: { tokens: 22 * 20 } } } } });
    const u = await token('alice');
    for (let i = 0; i < 15; i++) expect(await send(t, u)).toBe(200); // 330/440 = 75%
    await settle(t);
    expect(hooks).toEqual([]);
    expect(await send(t, u)).toBe(200); // 352 = 80%
    await settle(t);
    expect(kinds()).toEqual(['quota_warning']);
    for (let i = 0; i < 3; i++) await send(t, u); // 418 = 95%
    await settle(t);
    expect(kinds()).toEqual(['quota_critical', 'quota_warning']);
    await send(t, u);
    await settle(t);
    expect(hooks).toHaveLength(2);
    const warning = hooks.find((h) => h.body.kind === 'quota_warning')!;
    expect(warning.body).toMatchObject({
      companyId: 'acme',
      scope: 'user',
      subject: 'acme/alice',
      window: 'daily',
      windowKey: '2026-11-22',
      threshold: 0.8,
      limitTokens: 440,
    });
    const ts = Number(warning.headers['x-tollgate-timestamp']);
    expect(warning.headers['x-tollgate-signature']).toBe(signWebhook('whsec-test', ts, warning.raw));
    // The next day is a new window: the warning can fire again.
    now = new Date('2026-11-23T12:00:00Z');
    for (let i = 0; i < 16; i++) await send(t, u);
    await settle(t);
    expect(hooks.filter((h) => h.body.kind === 'quota_warning')).toHaveLength(2);
    expect(t.query('SELECT COUNT(*) AS n FROM alerts')).toEqual([{ n: 3 }]);
  });

  it('fire low-balance alerts at 10% and 5% left on a grant, once each', async () => {
    const t = await tollgate({ allocations: [{ id: 'small', tokens: 22 * 20 }] });
    const key = t.keys['acme-key']!;
    for (let i = 0; i < 17; i++) await send(t, key); // 374: 15% left
    await settle(t);
    expect(hooks).toEqual([]);
    await send(t, key); // 396: 10% left
    await settle(t);
    expect(kinds()).toEqual(['low_balance_warning']);
    await send(t, key); // 418: 5% left
    await send(t, key);
    await settle(t);
    expect(kinds()).toEqual(['low_balance_critical', 'low_balance_warning']);
    expect(hooks[0]!.body).toMatchObject({ grant: 'small', unit: 'tokens', amount: 440 });
  });

  it('fire a spike alert when a minute exceeds the multiple of the trailing average', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({}, { spike: { multiple: 3, windowMinutes: 10, minTokens: 50, minHistoryMinutes: 9 } });
    const u = await token('spiky');
    for (let m = 0; m < 9; m++) {
      now = new Date(Date.parse('2026-11-22T12:00:00Z') + m * 60_000);
      await send(t, u); // 22 tokens a minute
    }
    await settle(t);
    expect(hooks).toEqual([]);
    now = new Date('2026-11-22T12:09:00Z');
    for (let i = 0; i < 4; i++) await send(t, u); // 88 tokens in a minute > 3 × 22 × 9/9
    await settle(t);
    expect(kinds()).toEqual(['usage_spike']);
    expect(hooks[0]!.body).toMatchObject({ subject: 'acme/spiky', tokens: 88 });
  });

  it('fire no spike alert before the subject has minHistoryMinutes of history (a first try-out)', async () => {
    now = new Date('2026-11-22T12:00:00Z');
    const t = await tollgate({}, { spike: { multiple: 3, windowMinutes: 10, minTokens: 50, minHistoryMinutes: 30 } });
    const u = await token('newcomer');
    for (let m = 0; m < 9; m++) {
      now = new Date(Date.parse('2026-11-22T12:00:00Z') + m * 60_000);
      await send(t, u);
    }
    now = new Date('2026-11-22T12:09:00Z');
    for (let i = 0; i < 4; i++) await send(t, u); // the same spike as above, 9 minutes after the first request
    await settle(t);
    expect(hooks).toEqual([]);
    expect(kinds()).toEqual([]);
  });

  it('a failing webhook changes nothing for requests, and is retried with backoff', async () => {
    hookStatus = 500;
    const t = await tollgate({ allocations: [{ id: 'tiny', tokens: 22 * 10 }] });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await send(t, t.keys['acme-key']!)); // 220 of 220: both thresholds
    expect(statuses.every((s) => s === 200)).toBe(true);
    await t.settled();
    await waitUntil(
      () =>
        t.query('SELECT attempts FROM alerts').length === 2 &&
        t.query('SELECT attempts FROM alerts WHERE attempts < 3').length === 0,
      { what: 'both alerts tried three times' },
    );
    const rows = t.query('SELECT kind, attempts, delivered_at FROM alerts ORDER BY kind');
    expect(rows).toEqual([
      { kind: 'low_balance_critical', attempts: 3, delivered_at: null },
      { kind: 'low_balance_warning', attempts: 3, delivered_at: null },
    ]);
    expect(hooks).toHaveLength(6);
    expect(t.rows().every((r) => r.status === 'settled')).toBe(true);
  });
});

describe('quota-increase requests', () => {
  it('are recorded, fire the admin webhook, and are visible to their user and the company admin only', async () => {
    const t = await tollgate({});
    const post = async (credential: string, payload: unknown) =>
      fetch(`${t.url}/tollgate/v1/quota-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
    const alice = await token('alice');
    const res = await post(alice, {
      justification: 'Quarter-end reporting needs more tokens',
      window: 'daily',
      tokens: 200000,
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string };
    expect(created).toMatchObject({
      object: 'quota_request',
      user_id: 'alice',
      company_id: 'acme',
      requested: { window: 'daily', tokens: 200000 },
    });
    await settle(t);
    expect(hooks.map((h) => h.body)).toEqual([
      expect.objectContaining({ kind: 'quota_increase_request', request: expect.objectContaining({ id: created.id }) }),
    ]);

    expect((await post(alice, { justification: '' })).status).toBe(400);
    expect((await post(alice, { justification: 'x', tokens: -5 })).status).toBe(400);
    expect((await post('sk-tg-nope', { justification: 'x' })).status).toBe(401);

    const list = async (credential: string) =>
      (
        (await (
          await fetch(`${t.url}/tollgate/v1/quota-requests`, { headers: { authorization: `Bearer ${credential}` } })
        ).json()) as { data: { id: string }[] }
      ).data.map((r) => r.id);
    expect(await list(alice)).toEqual([created.id]);
    expect(await list(await token('bob'))).toEqual([]);
    const admin = await new SignJWT({ company: 'acme', role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('boss')
      .setExpirationTime(4102444800)
      .sign(new TextEncoder().encode(process.env.ALERTS_JWT_SECRET));
    expect(await list(admin)).toEqual([created.id]);
  });
});
