import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { KeyIndex, mintKey } from '../../auth/api-key.js';
import { JwtVerifier } from '../../auth/jwt.js';
import { parseConfig } from '../../config/load.js';
import type { AppEnv } from '../../http/env.js';
import { bearerAuth } from './index.js';

const live = mintKey();
const revoked = mintKey();
const config = parseConfig({
  companies: {
    acme: {
      name: 'Acme',
      keys: [
        { id: 'acme-live', sha256: live.sha256, prefix: live.prefix, role: 'admin' },
        { id: 'acme-old', sha256: revoked.sha256, prefix: revoked.prefix, revoked: true },
      ],
      allocations: [{ id: 'g', tokens: 1000 }],
    },
  },
});

function app(skip?: (c: unknown) => boolean) {
  const a = new Hono<AppEnv>();
  a.use(
    '*',
    bearerAuth({
      credentials: { keys: new KeyIndex(config), jwt: new JwtVerifier(config) },
      clock: () => new Date('2026-11-30T00:00:00Z'),
      skip,
    }),
  );
  a.get('/', (c) => c.json(c.get('principal') ?? null));
  return a;
}

const get = (a: Hono<AppEnv>, authorization?: string) =>
  a.request('/', { headers: authorization ? { authorization } : {} });

describe('bearer-auth', () => {
  it('sets the principal of a company key', async () => {
    const res = await get(app(), `Bearer ${live.key}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      companyId: 'acme',
      keyId: 'acme-live',
      userId: null,
      role: 'admin',
      sessionId: null,
    });
  });

  it('refuses a missing, unknown or revoked key with 401 invalid_api_key, saying why', async () => {
    const missing = await get(app());
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({
      error: {
        message: expect.stringMatching(/^You didn't provide an API key/),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    const unknown = await get(app(), `Bearer ${mintKey().key}`);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe(
      'Incorrect API key provided. Ask your tollgate administrator for a valid key.',
    );
    const old = await get(app(), `Bearer ${revoked.key}`);
    expect(old.status).toBe(401);
    expect(((await old.json()) as { error: { message: string } }).error.message).toMatch(/revoked/);
  });

  it('lets a request through unauthenticated when skip says so', async () => {
    const res = await get(app(() => true));
    expect(res.status).toBe(200);
    expect(await res.json()).toBeNull();
  });
});
