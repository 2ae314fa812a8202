import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../http/env.js';
import { featureOf, featureRate } from './index.js';

const features = { summarise: { multiplier: 1.5 }, chat: { multiplier: 1 } };

function app() {
  const a = new Hono<AppEnv>();
  a.use('*', featureRate({ features: () => features, when: (c) => c.req.path !== '/skip' }));
  a.get('*', (c) => c.json({ feature: c.get('feature') ?? null }));
  return a;
}

describe('feature-rate', () => {
  it('sets the feature named by x-tollgate-feature, none when absent or empty', async () => {
    expect(await (await app().request('/', { headers: { 'x-tollgate-feature': 'summarise' } })).json()).toEqual({
      feature: { name: 'summarise', multiplier: 1.5 },
    });
    expect(await (await app().request('/')).json()).toEqual({ feature: null });
    expect(await (await app().request('/', { headers: { 'x-tollgate-feature': '' } })).json()).toEqual({
      feature: null,
    });
  });

  it('refuses an unknown feature with 400 unknown_feature, listing the known ones', async () => {
    const res = await app().request('/', { headers: { 'x-tollgate-feature': 'nope' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Unknown feature 'nope' in x-tollgate-feature. Known features: summarise, chat.",
        type: 'invalid_request_error',
        param: 'x-tollgate-feature',
        code: 'unknown_feature',
      },
    });
  });

  it('looks names up as own properties only: inherited names are unknown', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(featureOf(features, name)).toMatchObject({ kind: 'unknown_feature', feature: name });
    expect(featureOf({}, 'x')).toEqual({ kind: 'unknown_feature', feature: 'x', known: [] });
  });

  it('applies only where `when` says', async () => {
    expect((await app().request('/skip', { headers: { 'x-tollgate-feature': 'nope' } })).status).toBe(200);
  });
});
