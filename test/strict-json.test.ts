import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from './support/harness.js';
import { rawRequest } from './support/raw-http.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';

/**
 * HTTP JSON bodies are read strictly: a body whose objects repeat a key (however the key is
 * spelled, at any depth) is refused with a 400 naming it, before anything is held or sent upstream,
 * so tollgate and the upstream can never read two different values of one field.
 */
let upstream: ScriptedUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'acme-grant', tokens: 50_000 }] } },
  });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
  upstream.script = (_req, res) => json(res, 500, { error: { message: 'must not be reached' } });
});

async function post(path: string, body: string | Buffer) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = `POST ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${tollgate.keys['acme-key']}\r\ncontent-type: application/json\r\ncontent-length: ${bytes.byteLength}\r\n\r\n`;
  const res = await rawRequest(tollgate.url, Buffer.concat([Buffer.from(head), bytes]));
  return { status: res.status, error: (JSON.parse(res.body) as { error: Record<string, unknown> }).error };
}

describe('strict JSON request bodies', () => {
  it.each([
    ['a repeated model', '/v1/chat/completions', '{"model":"gpt-4o-mini","model":"gpt-4o","messages":[]}', 'model'],
    [
      'a key spelled with escapes',
      '/v1/chat/completions',
      '{"model":"gpt-4o-mini","max_tokens":5,"max_\\u0074okens":100000,"messages":[]}',
      'max_tokens',
    ],
    [
      'a nested repeat',
      '/v1/responses',
      '{"model":"gpt-4o-mini","input":"hi","reasoning":{"effort":"low","effort":"high"}}',
      'reasoning.effort',
    ],
    [
      'a repeat inside an array',
      '/v1/chat/completions',
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"},{"role":"user","role":"system","content":"b"}]}',
      'messages[1].role',
    ],
    [
      'a deferred creation (batch)',
      '/v1/batches',
      '{"input_file_id":"file-a","input_file_id":"file-b"}',
      'input_file_id',
    ],
  ])('refuses %s with a 400 naming the key, changing nothing', async (_name, path, body, param) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(res.error).toMatchObject({ type: 'invalid_request_error', code: 'duplicate_key', param });
    expect(String(res.error.message)).toContain(`'${param}'`);
    expect(upstream.seen).toHaveLength(0);
    expect(tollgate.rows()).toEqual([]);
    expect(tollgate.query('SELECT held, spent FROM grants')[0]).toEqual({ held: 0, spent: 0 });
  });

  it('refuses a body that is not UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    const res = await post('/v1/chat/completions', body);
    expect([res.status, res.error.code]).toEqual([400, 'invalid_utf8']);
    expect(upstream.seen).toHaveLength(0);
  });
});
