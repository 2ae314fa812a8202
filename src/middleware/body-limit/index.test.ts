import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../http/env.js';
import { bodyLimit } from './index.js';

function app() {
  const a = new Hono<AppEnv>();
  a.use('*', bodyLimit({ maxBytes: 10 }));
  a.post('/', (c) => c.text('read'));
  return a;
}

describe('body-limit', () => {
  it('refuses a body whose declared length exceeds the limit with 413 request_too_large', async () => {
    const res = await app().request('/', { method: 'POST', body: 'x'.repeat(11), headers: { 'content-length': '11' } });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        message: 'Request body too large: the limit is 10 bytes.',
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
  });

  it('lets a body at the limit through', async () => {
    const res = await app().request('/', { method: 'POST', body: 'x'.repeat(10), headers: { 'content-length': '10' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('read');
  });
});
