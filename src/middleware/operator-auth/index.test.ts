import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { mintKey } from '../../auth/api-key.js';
import type { OperatorConfig } from '../../config/schema.js';
import type { AppEnv } from '../../http/env.js';
import { operatorAuth } from './index.js';

const ops = mintKey();
const gone = mintKey();
const expired = mintKey();
const operators: OperatorConfig[] = [
  { id: 'ops', sha256: ops.sha256, prefix: ops.prefix, revoked: false },
  { id: 'gone', sha256: gone.sha256, prefix: gone.prefix, revoked: true },
  {
    id: 'old',
    sha256: expired.sha256,
    prefix: expired.prefix,
    revoked: false,
    expiresAt: new Date('2026-01-01T00:00:00Z'),
  },
] as OperatorConfig[];

function app(required: boolean, when?: () => boolean) {
  const a = new Hono<AppEnv>();
  a.use(
    '*',
    operatorAuth({ operators: () => operators, clock: () => new Date('2026-11-30T00:00:00Z'), required, when }),
  );
  a.get('/', (c) => c.json({ operator: c.get('operator')?.id ?? null }));
  return a;
}

const get = (a: Hono<AppEnv>, key?: string) =>
  a.request('/', { headers: key ? { authorization: `Bearer ${key}` } : {} });
const message = async (res: Response) => ((await res.json()) as { error: { message: string; code: string } }).error;

describe('operator-auth', () => {
  it('sets the operator of an operator key', async () => {
    expect(await (await get(app(true), ops.key)).json()).toEqual({ operator: 'ops' });
  });

  it('refuses a revoked or expired operator key with 401, required or not', async () => {
    for (const required of [true, false]) {
      const r = await get(app(required), gone.key);
      expect(r.status).toBe(401);
      expect(await message(r)).toMatchObject({
        code: 'invalid_api_key',
        message: 'This API key has been revoked. Ask your tollgate administrator for a new key.',
      });
      const e = await get(app(required), expired.key);
      expect(await message(e)).toMatchObject({
        code: 'invalid_api_key',
        message: 'This credential has expired. Ask your tollgate administrator for a new one.',
      });
    }
  });

  it('when required, refuses any other credential; when not, passes it on', async () => {
    const other = mintKey().key;
    const refused = await get(app(true), other);
    expect(refused.status).toBe(401);
    expect((await message(refused)).message).toBe('/metrics requires an operator key (metrics.requireAuth is set).');
    expect(await (await get(app(false), other)).json()).toEqual({ operator: null });
  });

  it('checks nothing when `when` is false', async () => {
    expect(
      (
        await get(
          app(true, () => false),
          gone.key,
        )
      ).status,
    ).toBe(200);
  });
});
