import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/** User tokens: what verifies, and every attack on the verifier that must be refused with OpenAI's 401. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const SECRET = 'test-secret-for-acme-hs256-0123456789';
process.env.ACME_JWT_SECRET = SECRET;
const NOW = new Date('2026-11-22T12:00:00Z');
const nowS = Math.floor(NOW.getTime() / 1000);

let upstream: FakeUpstream;
let jwks: Server;
let tollgate: Tollgate;
let es: Awaited<ReturnType<typeof generateKeyPair>>;
let rs: Awaited<ReturnType<typeof generateKeyPair>>;

const hs = (claims: JWTPayload, alg = 'HS256', secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
const base = { sub: 'alice', company: 'acme', exp: nowS + 600 };

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
  es = await generateKeyPair('ES256');
  rs = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(rs.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const grant = (id: string) => [{ id, tokens: 1_000_000 }];
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    clock: () => NOW,
    companies: {
      acme: { allocations: grant('acme-g'), jwt: { algorithms: ['HS256'], secretEnv: 'ACME_JWT_SECRET' } },
      ecorp: {
        allocations: grant('ecorp-g'),
        jwt: {
          algorithms: ['ES256'],
          publicKey: await exportSPKI(es.publicKey),
          issuer: 'https://idp.ecorp.test',
          audience: 'tollgate',
        },
      },
      rcorp: {
        allocations: grant('rcorp-g'),
        jwt: { algorithms: ['RS256'], jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` },
      },
    },
  });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
  await new Promise((r) => jwks.close(r));
});

async function call(token: string): Promise<number> {
  const res = await fetch(`${tollgate.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(chat.request.body),
  });
  const body = (await res.json()) as { error?: { code: string; type: string } };
  if (res.status === 401) expect(body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
  return res.status;
}

describe('user tokens that verify', () => {
  it('HS256 through the SDK: the row names the user and session', async () => {
    const token = await hs({ ...base, sid: 'sess-1', role: 'member' });
    const client = new OpenAI({ baseURL: `${tollgate.url}/v1`, apiKey: token, maxRetries: 0 });
    await expect(client.chat.completions.create(chat.request.body as never)).resolves.toMatchObject({
      usage: { total_tokens: 22 },
    });
    expect(tollgate.rows().at(-1)).toMatchObject({
      company_id: 'acme',
      user_id: 'alice',
      session_id: 'sess-1',
      key_id: null,
    });
  });

  it('ES256 with a PEM public key, issuer and audience', async () => {
    const token = await new SignJWT({ sub: 'eve', company: 'ecorp' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://idp.ecorp.test')
      .setAudience('tollgate')
      .setExpirationTime(nowS + 60)
      .sign(es.privateKey);
    expect(await call(token)).toBe(200);
    expect(tollgate.rows().at(-1)).toMatchObject({ company_id: 'ecorp', user_id: 'eve' });
  });

  it('RS256 from a JWKS URL', async () => {
    const token = await new SignJWT({ sub: 'rob', company: 'rcorp' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime(nowS + 60)
      .sign(rs.privateKey);
    expect(await call(token)).toBe(200);
  });

  it('tollgate token mint makes a token tollgate accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-jwt-'));
    const config = join(dir, 'proxy.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        companies: { acme: { name: 'acme', jwt: { algorithms: ['HS256'], secretEnv: 'ACME_JWT_SECRET' } } },
      }),
    );
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../src/cli.ts'),
        'token',
        'mint',
        '-c',
        config,
        '--company',
        'acme',
        '--user',
        'minted',
        '--session',
        's9',
        '--ttl',
        '99999999',
      ],
      { encoding: 'utf8', env: process.env },
    );
    expect(r.stderr).toBe('');
    expect(await call(r.stdout.trim())).toBe(200);
    expect(tollgate.rows().at(-1)).toMatchObject({ user_id: 'minted', session_id: 's9' });
  });
});

describe('user tokens that must be refused with 401', () => {
  const before = () => upstream.received.length;

  it.each([
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`,
    ],
    ['a wrong secret', () => hs(base, 'HS256', 'another-secret-entirely-0000000000')],
    ['an algorithm the company did not pin (HS512)', () => hs(base, 'HS512')],
    ['an expired token', () => hs({ ...base, exp: nowS - 1 })],
    ['a not-yet-valid token', () => hs({ ...base, nbf: nowS + 60 })],
    ['a token without exp', () => hs({ sub: 'alice', company: 'acme' })],
    ['a token without sub', () => hs({ company: 'acme', exp: nowS + 60 })],
    ['an unknown company', () => hs({ ...base, company: 'nobody' })],
    ['a company without jwt config', () => hs({ ...base, company: 'acme2' })],
    ['an unknown role', () => hs({ ...base, role: 'root' })],
    [
      'a tampered payload',
      async () => {
        const [h, , sig] = (await hs(base)).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ ...base, sub: 'mallory' })).toString('base64url')}.${sig}`;
      },
    ],
    ['garbage that looks like a JWT', async () => 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln'],
  ])('refuses %s', async (_case, make) => {
    const n = before();
    expect(await call(await make())).toBe(401);
    expect(upstream.received.length).toBe(n);
  });

  it('refuses HS/RS key confusion: HS256 signed with the public key of an RS256 company', async () => {
    const n = before();
    const pem = await exportSPKI(es.publicKey);
    const forged = await new SignJWT({
      sub: 'mallory',
      company: 'ecorp',
      iss: 'https://idp.ecorp.test',
      aud: 'tollgate',
      exp: nowS + 60,
    })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(pem));
    expect(await call(forged)).toBe(401);
    expect(upstream.received.length).toBe(n);
  });

  it('refuses an ES256 token with the wrong audience', async () => {
    const token = await new SignJWT({ sub: 'eve', company: 'ecorp' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://idp.ecorp.test')
      .setAudience('someone-else')
      .setExpirationTime(nowS + 60)
      .sign(es.privateKey);
    expect(await call(token)).toBe(401);
  });
});
