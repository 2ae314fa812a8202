import { performance } from 'node:perf_hooks';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../http/env.js';
import { requestTiming } from './index.js';

describe('request-timing', () => {
  it('sets `started` (performance.now() at arrival) and `now` (one clock reading)', async () => {
    const instant = new Date('2026-11-30T12:00:00Z');
    let readings = 0;
    const a = new Hono<AppEnv>();
    a.use('*', requestTiming({ clock: () => (readings++, instant) }));
    a.get('/', (c) => c.json({ started: c.get('started'), now: c.get('now').toISOString() }));
    const before = performance.now();
    const body = (await (await a.request('/')).json()) as { started: number; now: string };
    expect(body.now).toBe(instant.toISOString());
    expect(body.started).toBeGreaterThanOrEqual(before);
    expect(body.started).toBeLessThanOrEqual(performance.now());
    expect(readings).toBe(1);
  });
});
